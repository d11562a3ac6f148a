import type { FastifyInstance } from 'fastify'

/**
 * Keeps every answer of `server` out of caches (`Cache-Control: no-store`) unless its handler
 * said otherwise (the static scripts and styles, the same for everyone, say `public`). Pages and
 * JSON show a visitor's own cart, cards and orders: cached, Back after a logout on a shared
 * computer showed them again, and a shared cache could hand them to someone else.
 */
export function keepOutOfCaches(server: FastifyInstance): void {
  server.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    return payload
  })
}
