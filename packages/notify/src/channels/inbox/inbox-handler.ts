import {
  BadRequestError,
  CLOCK,
  currentRequestContext,
  LOGGER,
  NotFoundError,
  type RequestContext,
  TooManyRequestsError,
  UnauthorizedError,
  ValidationError,
  describeOption,
} from '@mortar/core'
import { type FetchHandler, jsonResponse, problemResponse } from '../../pages/fetch-handler.js'
import { NotifyConfigError, NotifyUnavailableError } from '../../errors.js'
import { delayOption } from '../../module/delay-option.js'
import { INBOX } from './inbox-channel.js'
import { readVersionMarker, versionMarker } from './inbox-marker.js'
import type { Inbox, InboxStatus, VersionedInboxItem } from './inbox-store.js'
import { InboxStreamHub, STREAM_LOOKBACK_MS, type StreamLimits } from './inbox-stream.js'

/** Options of {@link inboxHandler}. */
export interface InboxHandlerOptions {
  /**
   * The recipient id of the request's signed-in user, read from the request context (its
   * principal); `undefined` (or `null`, `''`) refuses the request (401), anything but text is
   * a 500 (`E_NOTIFY_CONFIG`). Notify never imports an auth package: this is where the app says
   * who the user is.
   */
  readonly recipient: (context: RequestContext) => string | undefined | Promise<string | undefined>
  /** How often live streams look for items written by other processes; 2 000 ms by default. */
  readonly pollMs?: number
  /**
   * Seconds between keep-alive comments on a live stream; 25 by default. Each asks the notify
   * module's `recipientExists` first: a stream of a recipient it says is gone (or that it cannot
   * answer for) ends there.
   */
  readonly heartbeatSeconds?: number
  /** Live streams one recipient may hold open in this process (tabs); 5 by default, then 429. */
  readonly maxStreamsPerRecipient?: number
  /** Live streams this process holds open in all; 1 000 by default, then 429. */
  readonly maxStreams?: number
  /**
   * Seconds a live stream lasts; 600 by default. It then ends and the browser reconnects, and
   * the new request is authorized afresh: a signed-out or revoked session stops getting items
   * (401 ends an `EventSource`). Items written meanwhile come with the new stream.
   */
  readonly maxStreamSeconds?: number
}

const STATUSES = new Set(['unread', 'read', 'archived', 'inbox'])
// Each path and what it takes: reads (GET, HEAD) or changes (POST with JSON).
const ROUTES = new Map<string, 'read' | 'change'>([
  ['/', 'read'],
  ['/counts', 'read'],
  ['/stream', 'read'],
  ['/read', 'change'],
  ['/unread', 'change'],
  ['/archive', 'change'],
  ['/read-all', 'change'],
])
const hubs = new WeakMap<Inbox, InboxStreamHub>()

/**
 * The in-app inbox over HTTP, a {@link FetchHandler} to mount under a prefix (`/inbox`), for the
 * signed-in recipient only:
 * - `GET /` — `{ items, nextCursor, marker, counts }`; `?status=unread|read|archived`, `?limit`,
 *   `?cursor`;
 * - `GET /counts` — `{ unread, read, archived, version }` (keep the answer of highest version:
 *   answers, and a stream's `counts` events, may arrive out of order);
 * - `POST /read`, `POST /unread`, `POST /archive` with `{ "ids": [...] }` — `{ changed }`;
 * - `POST /read-all` with `{ "upTo": marker, "ids": [...] }`, the `marker` of the page the client
 *   showed and the ids a stream brought since — `{ changed }`; items committed after stay unread;
 * - `GET /stream?after=<marker>` — server-sent events: `item` for each item added after the
 *   page of that `marker` (its data the item, its id where a reconnect resumes), `counts` after
 *   them; 429 past `maxStreamsPerRecipient` or `maxStreams` open streams. Every item once, in
 *   the order the recipient's inbox changed, whatever its transaction's length; a reconnect
 *   resumes after the last event. Without `after` a stream also sends the items of the last
 *   30 s, which the page may hold: the client drops an item id it has. A stream ends after
 *   `maxStreamSeconds`: the browser reconnects, authorized again, and resumes where it ended.
 *   A recipient the notify module's `recipientExists` says is gone opens none (401, as every
 *   route answers them), and one open ends at its next heartbeat.
 *
 * A `marker`, `nextCursor` or event id is bound to the recipient it was made for: another
 * recipient's (a tab left open under another account) or one edited is a 400
 * (`E_INBOX_MARKER`) that changes nothing and opens no stream.
 *
 * An unknown path is a 404, another method on a path a 405 with its `Allow` (which `OPTIONS`
 * answers, 204), a `HEAD` its `GET` without the body; a signed-out request is a 401 whatever it
 * asks, and so is one of a recipient the notify module's `recipientExists` says is gone (an
 * account deleted while its session lives on): it neither reads nor changes anything.
 *
 * Mount it inside the app's request context (core's adapters do), after the session that sets
 * the principal. Its POSTs take JSON only (`content-type: application/json`, 400 otherwise):
 * no HTML form can send one and another site's script only after a CORS preflight, so they are
 * safe from cross-site requests without the app's CSRF guard (which still applies).
 *
 * @example
 * ```ts
 * import { mountFetch } from '@mortar/core/fastify'
 * import { inboxHandler } from '@mortar/notify'
 *
 * mountFetch(server, '/inbox', inboxHandler({ recipient: (context) => context.get('principal')?.id }))
 * ```
 */
export function inboxHandler(options: InboxHandlerOptions): FetchHandler {
  const pollMs = delayOption('inboxHandler: pollMs', options.pollMs, 2_000)
  const lifetimeMs = delayOption(
    'inboxHandler: maxStreamSeconds × 1000',
    options.maxStreamSeconds === undefined ? undefined : options.maxStreamSeconds * 1000,
    600_000,
  )
  const heartbeatMs = delayOption(
    'inboxHandler: heartbeatSeconds × 1000',
    options.heartbeatSeconds === undefined ? undefined : options.heartbeatSeconds * 1000,
    25_000,
  )
  const limits: StreamLimits = {
    perRecipient: countOption('maxStreamsPerRecipient', options.maxStreamsPerRecipient, 5),
    total: countOption('maxStreams', options.maxStreams, 1_000),
  }
  const handle: FetchHandler = async (request) => {
    const context = currentRequestContext()
    try {
      const recipientId = context === undefined ? undefined : await signedIn(options, context)
      if (context === undefined || recipientId === undefined) {
        throw new UnauthorizedError('Sign in to see your notifications.')
      }
      const inbox = context.resolve(INBOX)
      // Signed in as a recipient the app deleted (a session not revoked yet): nothing on any
      // route, read or change, and a check that fails refuses too (its error, a 500).
      if (!(await inbox.exists(recipientId))) throw gone()
      const path = new URL(request.url).pathname.replace(/\/+$/, '') || '/'
      const query = new URL(request.url).searchParams
      const route = ROUTES.get(path)
      if (route === undefined) throw new NotFoundError()
      const allow = route === 'read' ? 'GET, HEAD, OPTIONS' : 'POST, OPTIONS'
      if (request.method === 'OPTIONS')
        return new Response(null, { status: 204, headers: { allow } })
      const reads = request.method === 'GET' || request.method === 'HEAD'
      if (route === 'read' ? !reads : request.method !== 'POST')
        return new Response(null, { status: 405, headers: { allow } })
      if (reads) {
        if (path === '/') {
          const status = query.get('status') ?? 'inbox'
          if (!STATUSES.has(status))
            throw invalid('status', 'One of unread, read, archived, inbox.')
          const limit = query.get('limit')
          if (limit !== null && !/^\d{1,3}$/.test(limit))
            throw invalid('limit', 'A whole number from 1 to 100.')
          const [page, counts] = [
            await inbox.list(recipientId, {
              status: status as InboxStatus | 'inbox',
              limit: limit === null ? undefined : Number(limit),
              cursor: query.get('cursor'),
            }),
            await inbox.counts(recipientId),
          ]
          return jsonResponse({ ...page, counts })
        }
        if (path === '/counts') return jsonResponse(await inbox.counts(recipientId))
        // GET /stream. A HEAD reads no body: a stream opened for it would hold a place of the
        // limits, a timer and the poll until its lifetime ended, for nothing.
        if (request.method === 'HEAD') return new Response(null, { headers: STREAM_HEADERS })
        const clock = context.resolve(CLOCK)
        let hub = hubs.get(inbox)
        if (hub === undefined) {
          const logger = context.resolve(LOGGER)
          hub = new InboxStreamHub(inbox, {
            pollMs,
            onPollError: (err) =>
              logger.warn(
                { err },
                'Live inbox streams cannot read new items; retrying (they miss items meanwhile)',
              ),
          })
          hubs.set(inbox, hub)
        }
        if (hub.closed) throw stopping()
        const after = query.get('after')
        const start = await resumeFrom(inbox, recipientId, {
          lastEventId: request.headers.get('last-event-id'),
          marker: after,
          nowMs: clock.nowMs(),
        })
        return stream(request, inbox, hub, recipientId, start, limits, {
          heartbeatMs,
          lifetimeMs,
        })
      }
      requireJson(request)
      if (path === '/read-all') {
        const body = await readBody(request)
        const ids = body.ids === undefined ? [] : readIds(body.ids)
        // markAllRead refuses a marker not of this recipient's pages (400) before any change.
        return jsonResponse({
          changed: await inbox.markAllRead(recipientId, {
            upTo: body.upTo as string,
            ids,
          }),
        })
      }
      const ids = readIds((await readBody(request)).ids)
      if (path === '/read') return jsonResponse({ changed: await inbox.markRead(recipientId, ids) })
      if (path === '/unread')
        return jsonResponse({ changed: await inbox.markUnread(recipientId, ids) })
      // POST /archive
      return jsonResponse({ changed: await inbox.archive(recipientId, ids) })
    } catch (error) {
      return problemResponse(error, request)
    }
  }
  // A HEAD is answered as its GET would be, without the body.
  return async (request) => {
    const response = await handle(request)
    if (request.method !== 'HEAD' || response.body === null) return response
    await response.body.cancel()
    return new Response(null, { status: response.status, headers: response.headers })
  }
}

/**
 * The recipient id `options.recipient` gives, `undefined` when no one is signed in (`null` and
 * `''` too). Anything else but text is refused (`E_NOTIFY_CONFIG`, 500): each engine compared
 * a number with the text column its own way (SQLite matched nothing, PostgreSQL read 42 as
 * '42', MariaDB failed the query with a 422 or 500 blaming the request), none of them an
 * answer to a request whose sender is unknown.
 */
async function signedIn(
  options: InboxHandlerOptions,
  context: RequestContext,
): Promise<string | undefined> {
  const id: unknown = await options.recipient(context)
  if (id === undefined || id === null || id === '') return undefined
  if (typeof id !== 'string') {
    throw new NotifyConfigError(
      `inboxHandler: recipient() must give the signed-in user's id as text (or undefined); got ${Array.isArray(id) ? 'an array' : `a ${typeof id}`}.`,
    )
  }
  return id
}

function gone(): UnauthorizedError {
  return new UnauthorizedError('This account no longer exists: sign in again.')
}

function stopping(): NotifyUnavailableError {
  return new NotifyUnavailableError('The app is stopping: live inbox streams are closed.')
}

function countOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new NotifyConfigError(
      `inboxHandler: ${name} must be a whole number from 1; got ${describeOption(value)}.`,
    )
  }
  return value
}

function invalid(path: string, message: string): ValidationError {
  return new ValidationError(
    [{ path, message, code: 'invalid' }],
    `The inbox parameter '${path}' is invalid.`,
  )
}

/**
 * Refuses a POST that is not JSON. No HTML form can send JSON, and another site's script can
 * only after a CORS preflight that the app does not grant: a change of the inbox is never one
 * that a page elsewhere can make with the user's cookies, CSRF guard or not.
 */
function requireJson(request: Request): void {
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new BadRequestError(
      'Send inbox changes as application/json (a form post is refused: another site can send one).',
    )
  }
}

async function readBody(
  request: Request,
): Promise<{ readonly ids?: unknown; readonly upTo?: unknown }> {
  const text = await request.text()
  if (text.length > 64 * 1024) throw new BadRequestError('The body is too long.')
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new BadRequestError('The body is not JSON.')
  }
  return typeof body === 'object' && body !== null ? body : {}
}

function readIds(ids: unknown): string[] {
  if (
    !Array.isArray(ids) ||
    ids.length > 500 ||
    !ids.every((id) => typeof id === 'string' && id.length <= 64)
  ) {
    throw invalid('ids', 'An array of at most 500 item ids.')
  }
  return ids as string[]
}

/** An item as one server-sent event: its id is where a reconnect resumes, its data the item. */
function itemEvent({ item, version }: VersionedInboxItem): string {
  // JSON holds no raw line break: the item cannot end the event or write fields of its own.
  return `id: ${eventId(item.recipientId, version)}\nevent: item\ndata: ${JSON.stringify(item)}\n\n`
}

/**
 * A stream's event id: `v` and the marker of the recipient's inbox version up to which it has
 * sent every item. The browser sends the last one back as Last-Event-ID on reconnecting.
 */
function eventId(recipientId: string, version: number): string {
  return `v${versionMarker(recipientId, version)}`
}

// What an event id of a version looks like, bound or (forged, or of a stream before markers were
// bound) not: it is read as a marker, so one not of this recipient's is refused.
const VERSION_ID = /^v\d/
// The event ids of streams before versions: `@<ms>`, an instant up to which they had sent every
// item committed (and before that, an item's id).
const INSTANT_ID = /^@(\d{1,15})$/

/**
 * The version after which a stream of this recipient starts: the stream's last event id (the
 * marker of a version), else the page's `marker` (`?after=`), else the items stamped within
 * {@link STREAM_LOOKBACK_MS} (again: the client drops an id it has). A marker not of this
 * recipient's stream or pages (another recipient's, forged: it would skip what they have not
 * seen) is refused with `InboxMarkerError` (400, which ends an `EventSource`: its page is not
 * theirs). An event id of streams before versions (an instant, an item of theirs) resumes from
 * the items stamped that lookback before it; an id that is not one of the recipient's items
 * (another recipient's) is never looked at, so it tells nothing about it: the stream starts as
 * a fresh one does.
 */
async function resumeFrom(
  inbox: Inbox,
  recipientId: string,
  from: {
    readonly lastEventId: string | null
    readonly marker: string | null
    readonly nowMs: number
  },
): Promise<number> {
  const { lastEventId, nowMs } = from
  const current = async () => (await inbox.versions([recipientId])).get(recipientId) ?? 0
  if (lastEventId !== null && VERSION_ID.test(lastEventId))
    return readVersionMarker(recipientId, lastEventId.slice(1), await current(), 'Last-Event-ID')
  if (lastEventId !== null && lastEventId !== '' && lastEventId.length <= 64) {
    const instant = INSTANT_ID.exec(lastEventId)?.[1]
    const at =
      instant === undefined
        ? (await inbox.get(recipientId, lastEventId))?.createdAt.getTime()
        : Math.min(Number(instant), nowMs)
    if (at !== undefined) return inbox.versionBefore(recipientId, at - STREAM_LOOKBACK_MS)
  }
  if (from.marker !== null)
    return readVersionMarker(recipientId, from.marker, await current(), 'after')
  return inbox.versionBefore(recipientId, nowMs - STREAM_LOOKBACK_MS)
}

function stream(
  request: Request,
  inbox: Inbox,
  hub: InboxStreamHub,
  recipientId: string,
  after: number,
  limits: StreamLimits,
  timing: { readonly heartbeatMs: number; readonly lifetimeMs: number },
): Response {
  const encoder = new TextEncoder()
  let cleanup = () => {}
  let write = (_text: string) => {}
  let sendCounts = async () => {}
  const subscription = hub.subscribe(
    recipientId,
    after,
    (items) => {
      for (const item of items) write(itemEvent(item))
      void sendCounts()
    },
    () => cleanup(),
    limits,
  )
  if (subscription === 'closed') throw stopping()
  if (subscription === 'full') {
    throw new TooManyRequestsError(
      30,
      'Too many live inbox streams are open; close one (another tab) or retry later.',
    )
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      write = (text: string) => {
        try {
          controller.enqueue(encoder.encode(text))
        } catch {
          cleanup()
        }
      }
      sendCounts = async () => {
        try {
          write(`event: counts\ndata: ${JSON.stringify(await inbox.counts(recipientId))}\n\n`)
        } catch {
          // the next item sends them again
        }
      }
      // With the cursor as of now: a reconnect after a quiet spell reads back only from there.
      // A recipient deleted since the stream opened (or one the check cannot answer for) gets
      // nothing more: the stream ends, and its reconnect is refused while they are gone.
      let checking = false
      const heartbeat = setInterval(() => {
        if (checking) return
        checking = true
        inbox.exists(recipientId).then(
          (exists) => {
            checking = false
            if (!exists) return cleanup()
            write(`: keep-alive\nid: ${eventId(recipientId, subscription.cursor())}\n\n`)
          },
          () => cleanup(),
        )
      }, timing.heartbeatMs)
      heartbeat.unref()
      // Authorized once, at its request: it ends in time, and the reconnect is authorized again.
      // It starts with its id (no event): where a reconnect resumes before any item comes.
      const lifetime = setTimeout(() => cleanup(), timing.lifetimeMs)
      lifetime.unref()
      cleanup = () => {
        clearInterval(heartbeat)
        clearTimeout(lifetime)
        subscription.stop()
        request.signal.removeEventListener('abort', onAbort)
        try {
          controller.close()
        } catch {
          // already closed
        }
      }
      const onAbort = () => cleanup()
      request.signal.addEventListener('abort', onAbort, { once: true })
      if (request.signal.aborted) cleanup()
      write(`retry: 3000\nid: ${eventId(recipientId, subscription.cursor())}\n\n`)
      void sendCounts()
    },
    cancel() {
      cleanup()
    },
  })
  return new Response(body, { headers: STREAM_HEADERS })
}

const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
} as const
