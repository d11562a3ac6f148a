import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import * as zlib from 'node:zlib'
import { MortarError } from '../../errors/index.js'
import { processGlobal } from '../../global/index.js'
import { isEventStream } from './event-streams.js'
import { withBodyJson } from './http-errors.js'
import { describeOption } from '../../validation/number-in.js'

/**
 * The path and query a handler mounted at `prefix` sees for the raw request target `url`: the
 * prefix removed (`/admin/stats?day=1` at `/admin` → `/stats?day=1`, `/admin` → `/`), as Hono's
 * `mount()` does; `undefined` when `url` is not under `prefix`. `prefix` has no trailing slash.
 */
export function mountedTarget(url: string, prefix: string): string | undefined {
  if (!url.startsWith(prefix)) return undefined
  const rest = url.slice(prefix.length)
  if (rest === '' || rest.startsWith('?')) return `/${rest}`
  return rest.startsWith('/') ? rest : undefined
}

/**
 * Checks a mount prefix and returns it without a trailing slash (`''` for the root), so a
 * mistake such as `'admin'` fails when the mount is made, not on the first request.
 */
export function normalizeMountPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !/^\/[^?#*:]*$/.test(prefix)) {
    throw new TypeError(
      `A mount prefix is a path such as '/admin/analytics'; got ${describeOption(prefix)}.`,
    )
  }
  return prefix.replace(/\/+$/, '')
}

/** What {@link toFetchRequest} needs besides the request's method and headers. */
export interface FetchRequestInit {
  readonly method: string
  readonly headers: IncomingHttpHeaders
  /** `http://host[:port]`, from which the URL is built. */
  readonly origin: string
  /** The path and query the handler sees. */
  readonly target: string
  /** The whole body, read before the handler runs. */
  readonly body: Uint8Array | undefined
  /**
   * Whether `body` is already decoded from the request's `content-encoding` (a body parser or a
   * decompressing hook ran before): the header is then dropped, so the handler decodes nothing
   * twice.
   */
  readonly decoded: boolean
  readonly signal: AbortSignal | undefined
}

// Headers that describe the bytes as they were sent, not the whole body the handler gets: its
// length is set from the body itself.
const FRAMING = new Set(['content-length', 'transfer-encoding'])

/** Builds the `Request` a mounted {@link FetchHandler} receives. */
export function toFetchRequest(init: FetchRequestInit): Request {
  const headers = new Headers()
  for (const [name, value] of Object.entries(init.headers)) {
    // HTTP/2 pseudo-headers (`:path`) are not headers a Request may carry.
    if (value === undefined || name.startsWith(':') || FRAMING.has(name)) continue
    if (init.decoded && name === 'content-encoding') continue
    if (Array.isArray(value)) for (const item of value) headers.append(name, item)
    else headers.append(name, value)
  }
  const method = init.method.toUpperCase()
  const body =
    method !== 'GET' && method !== 'HEAD' && init.body !== undefined && init.body.length > 0
      ? init.body
      : null
  if (body !== null) headers.set('content-length', String(body.length))
  // Concatenated, never resolved against the origin: a target of `//evil.example` stays a path.
  return withBodyJson(
    new Request(`${init.origin}${init.target}`, {
      method,
      headers,
      body,
      signal: init.signal ?? null,
    }),
  )
}

const HOST = /^[A-Za-z0-9.-]+(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$/

/** The origin of a node:http request, from its socket and a sane `Host` header. */
export function originOf(request: IncomingMessage): string {
  const secure = (request.socket as { encrypted?: boolean } | undefined)?.encrypted === true
  return safeOrigin(secure ? 'https' : 'http', request.headers.host)
}

/**
 * `protocol://host` for a mounted handler's URL, with `localhost` for a `Host` header that is
 * not a host and port: the URL is concatenated, so `evil.example/admin?` or `x#` would change
 * the path the handler sees from the one the server routed, and `x:99999` make no URL at all.
 */
export function safeOrigin(protocol: string, host: string | undefined): string {
  const origin = `${protocol}://${host}`
  // The pattern lets a port past 65535 through, which no URL takes.
  return host !== undefined && HOST.test(host) && URL.canParse(origin)
    ? origin
    : `${protocol}://localhost`
}

// The bytes of a request body as `verifyUtf8Json` saw them, before Express's parser decoded them.
// Process-wide: an app may take verifyUtf8Json from one build (ESM or CJS) and mount with the other.
const rawBodies = processGlobal(
  'mortar.http.rawBodies',
  () => new WeakMap<IncomingMessage, Uint8Array>(),
)

/** Keeps the bytes a parser mounted before Mortar read, for {@link alreadyReadBody}. */
export function keepRawBody(request: IncomingMessage, body: Uint8Array): void {
  rawBodies.set(request, body)
}

/**
 * The body of a node:http request that a parser mounted earlier (Express's `express.json()`,
 * `express.urlencoded()`, `express.text()`, `express.raw()`) already read: the bytes it came
 * from, or `undefined` when the stream is still unread. A parsed value is never re-encoded
 * (JSON rounds big numbers, forms reorder fields, text loses its charset): without the bytes
 * kept by `verifyUtf8Json` it is a 500 naming the fix.
 */
export function alreadyReadBody(request: IncomingMessage): Uint8Array | undefined {
  if (!(request.complete && !request.readable)) return undefined
  const raw = rawBodies.get(request)
  if (raw !== undefined) return raw
  const parsed = (request as { body?: unknown }).body
  if (parsed === undefined || parsed === null) return new Uint8Array()
  // `express.raw()` keeps the bytes themselves.
  if (parsed instanceof Uint8Array) return parsed
  throw new MortarError(
    'E_BODY_ALREADY_PARSED',
    500,
    'A body parser read this request before the mounted fetch handler and its bytes were not ' +
      'kept: pass `verify: verifyUtf8Json` to that parser (express.json(), express.urlencoded(), ' +
      'express.text()), or mount the handler before it.',
  )
}

// Codings fetch() decodes in a response body, leaving the upstream's content-encoding and
// content-length on the Response. zstd where this Node's zlib has it (22.15+, 23.8+): its fetch
// then decodes zstd too.
const FETCH_DECODES = new Set([
  'gzip',
  'x-gzip',
  'deflate',
  'br',
  ...('createZstdDecompress' in zlib ? ['zstd'] : []),
])

/**
 * `answer` as it may be sent. A handler that returns an upstream's response as `fetch()` gave it
 * returns a body fetch already decoded under the upstream's `content-encoding` and
 * `content-length`: sent with them, the client would decode the bytes again and wait for bytes
 * that never come. Such a response is copied without the two; any other is returned as it is.
 */
export function sendableResponse(answer: Response): Response {
  if (answer.url === '' || answer.body === null) return answer
  const encoding = answer.headers.get('content-encoding')
  // fetch() decodes only when it knows every coding listed.
  if (
    encoding === null ||
    !encoding.split(',').every((coding) => FETCH_DECODES.has(coding.trim().toLowerCase()))
  ) {
    return answer
  }
  const headers = new Headers(answer.headers)
  headers.delete('content-encoding')
  headers.delete('content-length')
  return new Response(answer.body, {
    status: answer.status,
    statusText: answer.statusText,
    headers,
  })
}

/**
 * Sends a `Response` through a node:http response: status, headers (each `set-cookie` on its
 * own), then the body as it streams, waiting for the socket to drain. Stops reading the body, and
 * cancels it, as soon as the response closes: the client went away, or the adapter ended an event
 * stream because its server is closing.
 */
export async function sendFetchResponse(
  response: ServerResponse,
  given: Response,
  method: string,
): Promise<void> {
  const answer = sendableResponse(given)
  response.statusCode = answer.status
  if (answer.statusText !== '') response.statusMessage = answer.statusText
  answer.headers.forEach((value, name) => {
    if (name !== 'set-cookie') response.setHeader(name, value)
  })
  for (const cookie of answer.headers.getSetCookie()) response.appendHeader('set-cookie', cookie)
  const body = answer.body
  if (body === null || method.toUpperCase() === 'HEAD') {
    await body?.cancel()
    response.end()
    return
  }
  // An event stream's connection is not kept for another request once it ends.
  if (isEventStream(response.getHeader('content-type'))) response.setHeader('connection', 'close')
  const reader = body.getReader()
  // A read may wait for good on a live stream: cancelling ends it as `done`.
  const cancel = () => reader.cancel().catch(() => undefined)
  response.once('close', cancel)
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (response.destroyed || response.writableEnded) return
      if (!response.write(value)) await drained(response)
    }
    response.end()
  } finally {
    response.off('close', cancel)
    // A body left unread (the client went away) is cancelled, so its source stops producing.
    cancel()
  }
}

function drained(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done)
      response.off('close', done)
      resolve()
    }
    response.on('drain', done)
    response.on('close', done)
  })
}
