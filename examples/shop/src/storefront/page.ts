import { requestContext } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { currentPrincipal } from '../accounts/index.js'
import { CARTS, type CartSessionData } from '../cart/index.js'
import { Html, html } from './html.js'
import type { PageChrome } from './layout.js'

/** What the storefront's pages need from the app. */
export interface StorefrontOptions {
  /** The request's session: its cart's id, the flash messages, the CSRF token. */
  readonly session: () => Session<CartSessionData>
  /** The logged-in user's unread inbox items; without it, no count is shown. */
  readonly unreadCount?: (userId: string) => Promise<number>
  /**
   * Records a page view and returns the tag that sends its heartbeats (engaged time); called
   * for pages answering a GET. Without it, pages are not tracked.
   */
  readonly pageView?: () => Html
}

/** The chrome of the current request's page; takes the flash messages the last request left. */
export async function pageChrome(options: StorefrontOptions, query = ''): Promise<PageChrome> {
  const current = options.session()
  const principal = currentPrincipal()
  const cart = await requestContext().resolve(CARTS).read(current)
  return {
    principal,
    cartCount: cart.lines.reduce((units, line) => units + line.quantity, 0),
    unread:
      principal === undefined || options.unreadCount === undefined
        ? 0
        : await options.unreadCount(principal.id),
    csrfToken: current.csrfToken(),
    tail:
      options.pageView === undefined || requestContext().http?.method !== 'GET'
        ? html``
        : options.pageView(),
    query,
    notice: current.consumeFlash('notice'),
    alert: current.consumeFlash('alert'),
  }
}

/** Leaves `message` for the next page (a notice, or an alert) and saves the session. */
export async function flash(
  options: StorefrontOptions,
  message: string,
  kind: 'notice' | 'alert' = 'notice',
): Promise<void> {
  const session = options.session()
  session.flash(kind, message)
  await session.save()
}

/** Sends `document` as the HTML answer. */
export function sendHtml(reply: FastifyReply, document: Html, status = 200): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(document.toString())
}

/** Answers a form post with "see other": the browser loads `location` with a GET. */
export function seeOther(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('location', location).send()
}

/**
 * Whether `path` is one of the shop's own pages, so a `next` parameter cannot send a visitor away:
 * a path under `/store` or `/admin` as the browser resolves it. Dot segments (`..`, `%2e%2e`) and
 * empty ones are refused: `/store/../..//evil.example` passed a check of its characters and
 * resolves to `//evil.example`, a path any later redirect that normalises it sends off-site.
 */
export function isLocalPath(path: string | undefined): path is string {
  if (path === undefined || !/^\/(store|admin)(\/[\w\-/.%?=&]*)?$/.test(path)) return false
  const resolved = new URL(path, LOCAL)
  return (
    resolved.origin === LOCAL &&
    `${resolved.pathname}${resolved.search}` === path &&
    !resolved.pathname.includes('//')
  )
}

// Any origin: only the path's own resolution is compared.
const LOCAL = 'http://shop.invalid'

type PageHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<Html | FastifyReply>

/**
 * A storefront route: `handler` returns the page (sent as HTML) or a reply it sent itself (a
 * redirect). What it throws becomes an HTML page through the scope's `htmlErrorPages`.
 */
export function page(handler: PageHandler): PageHandler {
  return async (request, reply) => {
    const result = await handler(request, reply)
    return result instanceof Html ? sendHtml(reply, result) : result
  }
}
