import type { ShopPrincipal } from '../accounts/index.js'
import { CSRF_FIELD } from './form-support.js'
import { type Html, html } from './html.js'

/** What every page shows around its content: who is there, the cart, the inbox, messages. */
export interface PageChrome {
  readonly principal: ShopPrincipal | undefined
  /** Units in the cart. */
  readonly cartCount: number
  /** Unread inbox items of the logged-in user. */
  readonly unread: number
  /** The session's CSRF token, for the forms of the page. */
  readonly csrfToken: string
  /** What ends the body: the page view's heartbeat script, when pages are tracked. */
  readonly tail: Html
  /** The search box's text. */
  readonly query: string
  /** A message the previous request left: something done, or something that went wrong. */
  readonly notice: string | undefined
  readonly alert: string | undefined
}

/** The hidden field that carries the CSRF token in every form the storefront renders. */
export function csrfField(chrome: Pick<PageChrome, 'csrfToken'>): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${chrome.csrfToken}">`
}

function accountLinks(chrome: PageChrome): Html {
  if (chrome.principal === undefined) {
    return html`<a href="/store/login">Log in</a> <a href="/store/signup">Sign up</a>`
  }
  // The link is a convenience for admins; the admin pages ask the policy themselves.
  const admin = chrome.principal.roles.includes('admin')
  return html`<a href="/store/orders">Orders</a>
    <a href="/store/inbox">Inbox ${chrome.unread > 0 ? html`<span class="badge" id="unread">${chrome.unread}</span>` : ''}</a>
    <a href="/store/account">Account</a>
    ${admin ? html`<a href="/admin">Admin</a>` : ''}
    <form method="post" action="/store/logout">${csrfField(chrome)}<button class="link">Log out</button></form>`
}

/** A whole storefront page: the header (search, cart, account), messages, then `body`. */
export function layout(title: string, chrome: PageChrome, body: Html): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Mortar Shop</title>
<link rel="stylesheet" href="/store/assets/shop.css">
<script src="/store/assets/shop.js" defer></script>
</head>
<body>
<header><nav>
  <a class="brand" href="/store">Mortar Shop</a>
  <form method="get" action="/store" role="search">
    <input type="search" name="q" value="${chrome.query}" placeholder="Search products" aria-label="Search products" maxlength="100">
  </form>
  <a href="/store/cart">Cart ${chrome.cartCount > 0 ? html`<span class="badge" id="cart-count">${chrome.cartCount}</span>` : ''}</a>
  ${accountLinks(chrome)}
</nav></header>
<main>
${chrome.notice === undefined ? '' : html`<p class="notice" role="status">${chrome.notice}</p>`}
${chrome.alert === undefined ? '' : html`<p class="alert" role="alert">${chrome.alert}</p>`}
<h1>${title}</h1>
${body}
</main>
${chrome.tail}
</body>
</html>
`
}
