import type { FastifyInstance } from 'fastify'

/**
 * Lets no other site frame any answer of `server`. A page shown in an invisible frame on
 * another site can be clicked through (clickjacking) to place an order, delete a card or log
 * out everywhere: the request carries the visitor's cookie and the page's own CSRF token, so no
 * CSRF check can tell it apart. `frame-ancestors 'self'` for browsers that read CSP, and
 * `X-Frame-Options: SAMEORIGIN` for older ones; a handler's own policy (the development
 * mailbox's, the analytics dashboard's) is kept.
 */
export function refuseFraming(server: FastifyInstance): void {
  server.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'SAMEORIGIN')
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', "frame-ancestors 'self'")
    }
    return payload
  })
}
