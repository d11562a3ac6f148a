import type { FetchHandler } from '@mortar/core'
import { z } from 'zod'
import type { Tracker } from '../tracker/index.js'

const BEACON = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('heartbeat'),
    pageViewId: z.uuid(),
    seq: z.int().min(1).max(100_000),
  }),
  z.object({ type: z.literal('leave'), pageViewId: z.uuid() }),
])

const MAX_BODY = 1_024

// The page script: a heartbeat every interval while the page is visible and was used (a key, a
// click, a scroll, a touch, the mouse) since the last one, as Snowplow's activity tracking
// does; a page-leave when the page is hidden for good. sendBeacon survives the unload.
const SCRIPT = `(function () {
  var me = document.currentScript
  var view = me.getAttribute('data-page-view')
  var endpoint = me.getAttribute('data-endpoint')
  var interval = Number(me.getAttribute('data-interval')) * 1000
  if (!view || !endpoint || !(interval > 0)) return
  var active = false
  var seq = 0
  var left = false
  function send(body) {
    var text = JSON.stringify(body)
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, text)) return
    fetch(endpoint, { method: 'POST', body: text, keepalive: true, credentials: 'same-origin' })
  }
  ;['mousemove', 'keydown', 'scroll', 'touchstart', 'click'].forEach(function (name) {
    addEventListener(name, function () { active = true }, { passive: true, capture: true })
  })
  setInterval(function () {
    if (document.visibilityState !== 'visible' || !active) return
    active = false
    seq += 1
    send({ type: 'heartbeat', pageViewId: view, seq: seq })
  }, interval)
  addEventListener('pagehide', function () {
    if (left) return
    left = true
    send({ type: 'leave', pageViewId: view })
  })
})()
`

/**
 * The endpoint of the page script: `GET …/script.js` serves it, `POST …/collect` takes its
 * heartbeats and page-leaves (JSON, up to 1 KiB in UTF-8) and records them as `$heartbeat` and
 * `$page_leave` events of the visitor making the request. Anything else is a 404; a malformed
 * beacon a 400, a larger one a 413 (read no further than the limit). A beacon the browser says
 * another site sent (`Sec-Fetch-Site` other than `same-origin`, or an `Origin` whose host is not
 * the request's) is a 403: it would carry the visitor's cookies, and so their identity.
 */
export function collectorHandler(tracker: Tracker): FetchHandler {
  return async (request) => {
    const path = new URL(request.url).pathname.replace(/\/+$/, '')
    if (request.method === 'GET' && path.endsWith('/script.js')) {
      return new Response(SCRIPT, {
        headers: {
          'content-type': 'text/javascript; charset=utf-8',
          'cache-control': 'public, max-age=3600',
        },
      })
    }
    if (request.method !== 'POST' || !path.endsWith('/collect')) {
      return problem(404, 'Not found', 'The collector serves GET script.js and POST collect.')
    }
    if (isCrossSite(request)) {
      return problem(403, 'Forbidden', 'The collector takes beacons from its own pages only.')
    }
    const text = await readLimited(request, MAX_BODY)
    if (text === undefined) return problem(413, 'Payload too large', 'A beacon is at most 1 KiB.')
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      return problem(400, 'Bad request', 'The beacon is not JSON.')
    }
    const parsed = BEACON.safeParse(body)
    if (!parsed.success)
      return problem(400, 'Bad request', 'The beacon is not a heartbeat or a page-leave.')
    const beacon = parsed.data
    if (beacon.type === 'heartbeat') {
      tracker.trackBeacon('$heartbeat', { pageViewId: beacon.pageViewId, seq: beacon.seq })
    } else {
      tracker.trackBeacon('$page_leave', { pageViewId: beacon.pageViewId })
    }
    return new Response(null, { status: 204 })
  }
}

// Fetch metadata first, then Origin, as the session package's CSRF guard decides; a request with
// neither (curl, a server, a browser from before 2020) carries no visitor's cookies to abuse.
// `same-site` is refused too: a sibling subdomain may serve pages the app does not control.
function isCrossSite(request: Request): boolean {
  const site = request.headers.get('sec-fetch-site')
  if (site !== null && site !== 'same-origin') return true
  const origin = request.headers.get('origin')
  if (origin === null) return false
  // `Origin: null` (a sandboxed frame, a redirect across sites) names no site to trust. The host
  // alone is compared: behind a TLS proxy the request's own URL may say http.
  return !URL.canParse(origin) || new URL(origin).host !== new URL(request.url).host
}

// The body as text when it is at most `limit` bytes; undefined past it, read no further, so a
// large body is never buffered whole.
async function readLimited(request: Request, limit: number): Promise<string | undefined> {
  const declared = Number(request.headers.get('content-length') ?? 0)
  if (declared > limit) return undefined
  if (request.body === null) return ''
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel()
      return undefined
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The script tag that starts heartbeats for one page view, given where the collector is mounted. */
export function heartbeatTag(
  pageViewId: string,
  mountPath: string,
  intervalSeconds: number,
): string {
  const base = mountPath.replace(/\/+$/, '')
  const attribute = (value: string) =>
    value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
  return `<script src="${attribute(`${base}/script.js`)}" data-page-view="${attribute(pageViewId)}" data-endpoint="${attribute(`${base}/collect`)}" data-interval="${intervalSeconds}" defer></script>`
}

/** An RFC 9457 problem response. */
export function problem(status: number, title: string, detail: string): Response {
  return new Response(JSON.stringify({ type: 'about:blank', title, status, detail }), {
    status,
    headers: { 'content-type': 'application/problem+json' },
  })
}
