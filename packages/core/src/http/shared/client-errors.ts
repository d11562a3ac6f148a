import { randomUUID } from 'node:crypto'
import type { Duplex } from 'node:stream'
import {
  BadRequestError,
  MortarError,
  PayloadTooLargeError,
  toProblem,
} from '../../errors/index.js'
import { processGlobal } from '../../global/index.js'
import { codeForStatus } from './normalize-http-error.js'
import { REQUEST_ID_HEADER } from './request-id-header.js'

/**
 * A Node server whose HTTP/1.1 parser reports the requests it cannot parse: node:http's and
 * https' `Server`, and what Express's `listen()` and @hono/node-server's `serve()` return.
 */
export interface ClientErrorServer {
  on(event: 'clientError', listener: (error: Error, socket: Duplex) => void): unknown
  listenerCount(event: 'clientError'): number
}

// Servers whose parser errors Mortar answers, and the connections it answered one on: a request
// the parser had handed over before it failed (a bad chunk after a good head) is broken, and no
// handler is run for it.
const answering = processGlobal('mortar.http.clientErrorServers', () => new WeakSet<object>())
const broken = processGlobal('mortar.http.brokenConnections', () => new WeakSet<object>())

// How long a connection whose request was refused stays open for the client to read the
// problem: closed with bytes of its request still unread, it would get a reset instead.
const LINGER_MS = 5_000

/**
 * Makes `server` answer every request its HTTP/1.1 parser refuses, before any adapter sees it,
 * with an RFC 9457 problem as every other Mortar error (`content-type: application/problem+json`,
 * an `x-request-id`), on a connection it then closes: a head past the server's `maxHeaderSize`
 * (16 KiB unless set; a request line that long included: Node does not tell them apart) is a
 * 431 (`E_HTTP_431`), chunk extensions past Node's limit a 413 (`E_PAYLOAD_TOO_LARGE`), a request
 * not complete within the server's `requestTimeout` or `headersTimeout` a 408 (`E_HTTP_408`),
 * anything else (an unknown method, a bad character in a header, both `content-length` and
 * `transfer-encoding`, two different `content-length`s, a malformed chunk) a 400
 * (`E_BAD_REQUEST`). A request whose head had passed before its body failed is never handed to
 * the app's handler by a Mortar adapter after that. Without it, Node answers such requests with a
 * bare 400 or 431 of no body. `mortarFastify` does it for its server; returns `server`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { createApp } from '@mortar/core'
 * import { answerClientErrors, withMortar } from '@mortar/core/node'
 *
 * const app = createApp({ modules: [] })
 * const server = createServer(withMortar(app, async (req, res) => res.end('ok')))
 * answerClientErrors(server).listen(3000)
 * ```
 */
export function answerClientErrors<S extends ClientErrorServer>(server: S): S {
  if (answering.has(server)) return server
  answering.add(server)
  server.on('clientError', answerClientError)
  return server
}

/**
 * {@link answerClientErrors} for the server of a connection, unless the server already answers
 * its parser's errors some way (Mortar's or the app's own listener): an adapter calls it for each
 * request, so a server the app did not hand to it answers them from its first request on.
 */
export function answerClientErrorsOf(socket: object | undefined): void {
  const server = (socket as { server?: unknown } | undefined)?.server
  if (typeof server !== 'object' || server === null || answering.has(server)) return
  const source = server as Partial<ClientErrorServer>
  if (typeof source.on !== 'function' || typeof source.listenerCount !== 'function') return
  if (source.listenerCount('clientError') === 0) answerClientErrors(source as ClientErrorServer)
}

/**
 * Whether the parser refused the rest of what came on this connection after handing over its
 * request (see {@link answerClientErrors}): its handler must not run.
 */
export function isBrokenConnection(socket: object | undefined): boolean {
  return socket !== undefined && broken.has(socket)
}

interface ParserError extends Error {
  readonly code?: unknown
  readonly reason?: unknown
}

interface ParserSocket extends Duplex {
  // The response of the request the parser last handed over, while it is in flight.
  readonly _httpMessage?: { readonly headersSent?: boolean } | null
}

function answerClientError(error: ParserError, socket: ParserSocket): void {
  // Node calls again for each later chunk of a connection its parser gave up on.
  if (broken.has(socket)) return
  const refused = refusalOf(error)
  // A connection the client reset is only closed, as Node closes it.
  if (refused === undefined) {
    socket.destroy()
    return
  }
  broken.add(socket)
  // A response already under way cannot be followed by another: the connection is cut short.
  if (!socket.writable || socket._httpMessage?.headersSent) {
    socket.destroy()
    return
  }
  const requestId = randomUUID()
  const problem = toProblem(refused, { requestId })
  const body = JSON.stringify(problem.body)
  const head = [
    `HTTP/1.1 ${problem.status} ${problem.body.title}`,
    ...Object.entries(problem.headers).map(([name, value]) => `${name}: ${value}`),
    `content-length: ${Buffer.byteLength(body)}`,
    `${REQUEST_ID_HEADER}: ${requestId}`,
    'connection: close',
    '',
    '',
  ].join('\r\n')
  socket.end(head + body)
  const linger = setTimeout(() => socket.destroy(), LINGER_MS)
  linger.unref()
  socket.once('close', () => clearTimeout(linger))
}

// llhttp's reasons are fixed phrases ("Invalid header value char"), never bytes of the request.
const REASON = /^[\w ./`'-]{1,80}$/

// The problem for a parser's error, undefined for a connection error (a reset, a broken pipe).
function refusalOf(error: ParserError): MortarError | undefined {
  const code = typeof error.code === 'string' ? error.code : ''
  if (code === 'HPE_HEADER_OVERFLOW') {
    return new MortarError(
      codeForStatus(431),
      431,
      "The request's line and headers are larger than this server takes; send fewer or shorter headers, or a shorter URL.",
    )
  }
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') {
    return new PayloadTooLargeError(
      "The request body's chunk extensions are larger than this server takes; send the body without them.",
    )
  }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new MortarError(
      codeForStatus(408),
      408,
      'The request did not arrive in time; send it again, whole.',
    )
  }
  if (!code.startsWith('HPE_')) return undefined
  const reason = typeof error.reason === 'string' && REASON.test(error.reason) ? error.reason : ''
  return new BadRequestError(
    `The request is not well-formed HTTP/1.1${reason ? ` (${reason.toLowerCase()})` : ''}; send a valid request line, headers and body framing.`,
  )
}
