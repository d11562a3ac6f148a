import { currentRequestContext, NotFoundError } from '@mortar/core'
import { html, type SafeHtml } from '../../html/html.js'
import {
  type FetchHandler,
  guardPage,
  htmlResponse,
  jsonResponse,
  type PageGuard,
  problemResponse,
} from '../../pages/fetch-handler.js'
import { isLoopbackAddress } from '../loopback.js'
import type { CapturedMail, DevMailbox } from './dev-mailbox.js'

/** Options of {@link devMailboxPage}. */
export interface DevMailboxPageOptions {
  /**
   * Who may see the mailbox, from the request context (its principal, say). Without a guard the
   * page answers only when `NODE_ENV` is `development` and the request comes from this machine
   * (a loopback address) for this machine (a `Host` of `localhost`, `*.localhost` or a loopback
   * address); everywhere else it refuses (403).
   */
  readonly guard?: PageGuard
  /** The environment the default decision reads; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

/**
 * The dev mailbox's page, a {@link FetchHandler} to mount under a prefix: the list of captured
 * mails (`?format=json` for JSON), and each mail (`?id=…`) with its headers, text and HTML (in a
 * sandboxed frame that runs no script and loads nothing remote). Deny by default: see
 * {@link DevMailboxPageOptions.guard}.
 *
 * @example
 * ```ts
 * import { mountFetch } from '@mortar/core/fastify'
 * import { devMailboxPage } from '@mortar/notify'
 *
 * mountFetch(server, '/dev/mailbox', devMailboxPage(mailbox, {
 *   guard: (context) => context.get('principal')?.roles.includes('admin') === true,
 * }))
 * ```
 */
export function devMailboxPage(
  mailbox: DevMailbox,
  options: DevMailboxPageOptions = {},
): FetchHandler {
  const env = options.env ?? process.env
  return async (request) => {
    // Unguarded, only this machine: a dev server reachable from elsewhere (or a production one
    // started with NODE_ENV=development) must not show everyone's mail.
    const refused = await guardPage(
      request,
      options.guard,
      env.NODE_ENV === 'development' &&
        isLoopbackAddress(currentRequestContext()?.ip) &&
        !forwarded(request) &&
        loopbackHost(request),
    )
    if (refused) return refused
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } })
    }
    const query = new URL(request.url).searchParams
    const id = query.get('id')
    if (id !== null) {
      const mail = mailbox.find(id)
      if (mail === undefined)
        return problemResponse(new NotFoundError('No such mail in the dev mailbox.'), request)
      return query.get('format') === 'json'
        ? jsonResponse(mail)
        : htmlResponse(page(mail.subject, messageView(mail)).toString())
    }
    const mails = mailbox.messages()
    if (query.get('format') === 'json') return jsonResponse(mails)
    return htmlResponse(page('Dev mailbox', listView(mails)).toString())
  }
}

function page(title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1.5rem;color:#1d2129}
table{border-collapse:collapse;width:100%}td,th{padding:.45rem .6rem;border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}
th{font-weight:600;color:#56606b}a{color:#0b5cad}dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{color:#56606b}pre{white-space:pre-wrap;background:#f6f8fa;padding:1rem;border-radius:6px}
iframe{width:100%;min-height:28rem;border:1px solid #e3e6ea;border-radius:6px}.empty{color:#56606b}
</style></head><body>${body}</body></html>`
}

function listView(mails: readonly CapturedMail[]): SafeHtml {
  if (mails.length === 0) {
    return html`<h1>Dev mailbox</h1><p class="empty">No mail yet. Mail sent through the dev mailbox shows up here.</p>`
  }
  return html`<h1>Dev mailbox</h1><p>${mails.length} mail${mails.length === 1 ? '' : 's'}, newest first.</p>
<table><thead><tr><th>Received</th><th>To</th><th>Subject</th></tr></thead><tbody>
${mails.map(
  (mail) =>
    html`<tr data-mail-id="${mail.id}"><td>${mail.receivedAt.toISOString().replace('T', ' ').slice(0, 19)}</td><td>${mail.to}</td><td><a href="?id=${encodeURIComponent(mail.id)}">${mail.subject}</a></td></tr>`,
)}
</tbody></table>`
}

function messageView(mail: CapturedMail): SafeHtml {
  return html`<p><a href="?">← All mail</a></p><h1>${mail.subject}</h1>
<dl><dt>From</dt><dd>${mail.from}</dd><dt>To</dt><dd>${mail.to}</dd>
${mail.cc?.length ? html`<dt>Cc</dt><dd>${mail.cc.join(', ')}</dd>` : ''}
${mail.replyTo ? html`<dt>Reply-To</dt><dd>${mail.replyTo}</dd>` : ''}
<dt>Message-ID</dt><dd>${mail.messageId}</dd><dt>Received</dt><dd>${mail.receivedAt.toISOString()}</dd>
${mail.attachments?.length ? html`<dt>Attachments</dt><dd>${mail.attachments.map((a) => a.filename).join(', ')}</dd>` : ''}
</dl>
${mail.html === undefined ? '' : html`<h2>HTML</h2><iframe title="HTML body" sandbox="" srcdoc="${mail.html}"></iframe>`}
${mail.text === undefined ? '' : html`<h2>Text</h2><pre>${mail.text}</pre>`}`
}

// A proxy on this machine (a TLS terminator, a tunnel) connects from loopback for whoever it
// forwards: a request it marks as forwarded is not from this machine's user.
const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip', 'via']

function forwarded(request: Request): boolean {
  return FORWARDING_HEADERS.some((name) => request.headers.has(name))
}

// A page on another site can reach this one from the browser on this machine by pointing its own
// name at 127.0.0.1 (DNS rebinding): the request then comes from loopback, and its answer is that
// site's to read. Its Host still names that site, so only this machine's own names pass.
function loopbackHost(request: Request): boolean {
  const host = request.headers.get('host') ?? new URL(request.url).host
  let hostname: string
  try {
    hostname = new URL(`http://${host}`).hostname
  } catch {
    return false
  }
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true
  return isLoopbackAddress(hostname.replace(/^\[(.*)\]$/, '$1'))
}
