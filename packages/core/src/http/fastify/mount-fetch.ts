import { Readable } from 'node:stream'
import type { ReadableStream as NodeReadableStream } from 'node:stream/web'
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify'
import { currentRequestContext } from '../../context/index.js'
import { processGlobal } from '../../global/index.js'
import {
  type FetchHandler,
  sendableResponse,
  mountedTarget,
  normalizeMountPrefix,
  safeOrigin,
  toFetchRequest,
} from '../shared/index.js'

// HEAD is added by Fastify for each GET route (exposeHeadRoutes) and answered without a body.
const METHODS: HTTPMethods[] = ['DELETE', 'GET', 'OPTIONS', 'PATCH', 'POST', 'PUT']

// The body stream each mounted request was parsed from, after the preParsing hooks. Process-wide,
// as every request-keyed table of the adapters.
const parsedFrom = processGlobal(
  'mortar.fastify.parsedFrom',
  () => new WeakMap<FastifyRequest, { receivedEncodedLength?: unknown }>(),
)

/**
 * Serves a {@link FetchHandler} under `prefix` on a Fastify server that `mortarFastify` covers:
 * it runs inside the request context (session, principal, CSRF verdict), its body is read whole
 * under the server's body limit (413 past it) whatever its content type, before-response hooks
 * see its response, and a thrown error renders as problem+json. The handler receives the URL
 * without the prefix (`/admin/analytics/events` → `/events`). The routes live in a child context
 * of their own, so the server's other content-type parsers are untouched. A server-sent event
 * stream (`text/event-stream`) never ends by itself: `mortarFastify` ends it when the server
 * closes (its client reconnects), so `close()`, and the app's `stop()` behind it, run.
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
  await server.register(async (child) => {
    // The handler reads the body itself (form, JSON, text…): pass it on as bytes.
    child.removeAllContentTypeParsers()
    child.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
      done(null, body)
    })
    // Kept to see whether a hook decoded it: see `serve`.
    child.addHook('preParsing', (request, _reply, payload, done) => {
      parsedFrom.set(request, payload)
      done(null, payload)
    })
    const route = (request: FastifyRequest, reply: FastifyReply) =>
      serve(handler, base, request, reply)
    if (base !== '') child.route({ method: METHODS, url: base, handler: route })
    child.route({ method: METHODS, url: `${base}/*`, handler: route })
  })
}

async function serve(
  handler: FetchHandler,
  base: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const given = await handler(
    toFetchRequest({
      method: request.method,
      headers: request.headers,
      origin: safeOrigin(request.protocol, request.host),
      target: mountedTarget(request.url, base) ?? '/',
      body: request.body instanceof Uint8Array ? request.body : undefined,
      // Fastify asks a hook that decodes the body (a decompressing one, such as
      // @fastify/compress's, which keeps content-encoding) to count the bytes that arrived in
      // its stream's receivedEncodedLength: such a body is no longer in that encoding.
      decoded: typeof parsedFrom.get(request)?.receivedEncodedLength === 'number',
      signal: currentRequestContext()?.signal,
    }),
  )
  const answer = sendableResponse(given)
  reply.code(answer.status)
  answer.headers.forEach((value, name) => {
    if (name !== 'set-cookie') reply.header(name, value)
  })
  // Fastify appends each set-cookie value instead of replacing it.
  for (const cookie of answer.headers.getSetCookie()) reply.header('set-cookie', cookie)
  if (answer.body === null) return reply.send()
  return reply.send(Readable.fromWeb(answer.body as unknown as NodeReadableStream))
}
