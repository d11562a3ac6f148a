import { type IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { RequestContext } from '../../context/index.js'
import { processGlobal } from '../../global/index.js'

/** Whether a `content-type` names a server-sent event stream. */
export function isEventStream(contentType: unknown): boolean {
  return typeof contentType === 'string' && /^\s*text\/event-stream\b/i.test(contentType)
}

// The responses under way on each node:http server an adapter served, with their request
// context, so that closing the server can end those that are event streams.
interface ServerResponses {
  readonly open: Map<ServerResponse, RequestContext | undefined>
}

const servers = processGlobal(
  'mortar.http.server-responses',
  () => new WeakMap<object, ServerResponses>(),
)
// Responses known to be event streams whose headers `getHeader()` cannot see (written with
// writeHead by a framework that keeps them to itself, as @hono/node-server does).
const eventStreams = processGlobal('mortar.http.event-streams', () => new WeakSet<ServerResponse>())

interface ClosableServer {
  close(...args: unknown[]): unknown
}

/**
 * Records `response` as under way on the node:http server that accepted `request`, until
 * {@link forgetResponse}. When that server's `close()` is called, each recorded response that is a
 * server-sent event stream (by its `content-type`, or `eventStream`) and still open is ended:
 * its context aborted (the handler stops writing and releases what it holds), the response
 * ended and its connection closed. Such a stream never ends by itself, so `close()` would
 * otherwise wait on it for good, and the app's `stop()` that an app runs after it never run.
 *
 * All adapters pass through here, so no stream of any of them can hold a closing server.
 * `close()` is wrapped on the server instance, once: Node emits nothing when it is called, only
 * when the last connection is gone, which an open stream never lets happen.
 */
export function trackResponse(
  request: IncomingMessage,
  response: ServerResponse,
  context: RequestContext | undefined,
  eventStream = false,
): void {
  const server = (request.socket as (Socket & { server?: unknown }) | undefined)?.server
  if (typeof server !== 'object' || server === null) return
  let responses = servers.get(server)
  if (responses === undefined) {
    const created: ServerResponses = { open: new Map() }
    watchClose(server as ClosableServer, created)
    servers.set(server, created)
    responses = created
  }
  responses.open.set(response, context)
  if (eventStream) eventStreams.add(response)
}

/** Drops what {@link trackResponse} recorded for `response`, once it has closed. */
export function forgetResponse(request: IncomingMessage, response: ServerResponse): void {
  const server = (request.socket as (Socket & { server?: unknown }) | undefined)?.server
  if (typeof server === 'object' && server !== null) servers.get(server)?.open.delete(response)
}

/**
 * For a framework that writes its headers itself, straight to the socket (Fastify): when
 * `server.close()` is called, the response each connection is serving at that moment is ended
 * if it is an event stream. Found at close, through the connections, so no request pays for it
 * (a hook on every reply cost Fastify 7 % of its rate). A response's `_header` (the head it
 * wrote) and a socket's `_httpMessage` are Node internals, stable for years and read by
 * http-terminator and stoppable for the same purpose.
 */
export function endEventStreamsOnClose(server: ClosableServer & NodeJS.EventEmitter): void {
  const sockets = new Set<Socket>()
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  const close = server.close
  server.close = function closeEndingEventStreams(this: unknown, ...args: unknown[]) {
    const result = close.apply(this, args)
    for (const socket of sockets) {
      const response = (socket as { _httpMessage?: unknown })._httpMessage
      if (!(response instanceof ServerResponse) || response.writableEnded) continue
      const head = (response as { _header?: unknown })._header
      const written =
        typeof head === 'string' ? /^content-type:\s*text\/event-stream\b/im.test(head) : false
      if (written || isEventStream(response.getHeader('content-type')))
        endEventStream(response, undefined)
    }
    return result
  }
}

function watchClose(server: ClosableServer, responses: ServerResponses): void {
  const close = server.close
  if (typeof close !== 'function') return
  server.close = function closeEndingEventStreams(this: unknown, ...args: unknown[]) {
    const result = close.apply(this, args)
    for (const [response, context] of responses.open) {
      if (response.writableEnded) continue
      if (!eventStreams.has(response) && !isEventStream(response.getHeader('content-type')))
        continue
      endEventStream(response, context)
    }
    return result
  }
}

function endEventStream(response: ServerResponse, context: RequestContext | undefined): void {
  context?.abort()
  // Its connection is not kept for another request: a kept one holds close() until it idles out.
  if (!response.headersSent) response.setHeader('connection', 'close')
  const socket = response.socket
  response.end(() => socket?.destroySoon())
}
