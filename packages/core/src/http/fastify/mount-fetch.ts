import { Readable } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import { currentRequestContext } from '../../context/index.js'
import {
  type FetchHandler,
  mountedTarget,
  normalizeMountPrefix,
  safeOrigin,
  toFetchRequest,
} from '../shared/index.js'

// HEAD is added by Fastify for each GET route (exposeHeadRoutes) and answered without a body.
const METHODS: HTTPMethods[] = ['DELETE', 'GET', 'OPTIONS', 'PATCH', 'POST', 'PUT']

/**
 * Serves a {@link FetchHandler} under `prefix` on a Fastify server that `mortarFastify` covers:
 * it runs inside the request context (session, principal, CSRF verdict), its body is read whole
 * under the server's body limit (413 past it) whatever its content type, before-response hooks
 * see its response, and a thrown error renders as problem+json. The handler receives the URL
 * without the prefix (`/admin/analytics/events` → `/events`). The routes live in a child context
 * of their own, so the server's other content-type parsers are untouched. A server-sent event
 * stream (`text/event-stream`) never ends by itself, so it is ended when the server closes
 * (its client reconnects); otherwise `close()` would wait on it for good, and the app's
 * `stop()` behind it never run.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { createApp } from '@mortar/core'
 * import { mortarFastify, mountFetch } from '@mortar/core/fastify'
 *
 * const app = createApp({ modules: [] })
 * await app.start()
 * const fastify = Fastify()
 * await fastify.register(mortarFastify, { app })
 * await mountFetch(fastify, '/pages', (request) => new Response(new URL(request.url).pathname))
 * ```
 */
export async function mountFetch(
  server: FastifyInstance,
  prefix: string,
  handler: FetchHandler,
): Promise<void> {
  const base = normalizeMountPrefix(prefix)
  const closing = new AbortController()
  server.addHook('preClose', async () => closing.abort())
  await server.register(async (child) => {
    // The handler reads the body itself (form, JSON, text…): pass it on as bytes.
    child.removeAllContentTypeParsers()
    child.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
      done(null, body)
    })
    const route = (request: FastifyRequest, reply: FastifyReply) =>
      serve(handler, base, closing.signal, request, reply)
    if (base !== '') child.route({ method: METHODS, url: base, handler: route })
    child.route({ method: METHODS, url: `${base}/*`, handler: route })
  })
}

async function serve(
  handler: FetchHandler,
  base: string,
  closing: AbortSignal,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const answer = await handler(
    toFetchRequest({
      method: request.method,
      headers: request.headers,
      origin: safeOrigin(request.protocol, request.host),
      target: mountedTarget(request.url, base) ?? '/',
      body: request.body instanceof Uint8Array ? request.body : undefined,
      signal: currentRequestContext()?.signal,
    }),
  )
  reply.code(answer.status)
  answer.headers.forEach((value, name) => {
    if (name !== 'set-cookie') reply.header(name, value)
  })
  // Fastify appends each set-cookie value instead of replacing it.
  for (const cookie of answer.headers.getSetCookie()) reply.header('set-cookie', cookie)
  if (answer.body === null) return reply.send()
  const eventStream = /^text\/event-stream\b/i.test(answer.headers.get('content-type') ?? '')
  // Its connection is not kept for another request: a kept one would hold close() until idle.
  if (eventStream) reply.header('connection', 'close')
  const body = eventStream ? endedOn(closing, answer.body) : answer.body
  return reply.send(Readable.fromWeb(body as unknown as NodeReadableStream))
}

/**
 * `body`, ended cleanly once `closing` aborts: the source is cancelled (it releases what it
 * holds) and the response ends as if the source had, instead of failing mid-stream.
 */
function endedOn(
  closing: AbortSignal,
  body: ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
  body.pipeTo(writable, { signal: closing, preventAbort: true }).then(undefined, () =>
    // Aborted by the close, or cancelled by a client that went away (closing fails then).
    writable.close().catch(() => undefined),
  )
  return readable
}
