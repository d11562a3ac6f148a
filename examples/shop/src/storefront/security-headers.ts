import type { FastifyInstance } from 'fastify'

/**
 * The shop's content security policy. Its pages load their one script and stylesheet from the
 * shop and hold no inline script, so a browser runs nothing else: markup that slipped past the
 * `html` tag's escaping (a product name, a search, a mail address) cannot run a script, load one
 * from elsewhere, send a form off-site or move the page's base. `frame-ancestors 'self'`: no
 * other site may frame a page (clickjacking: a framed checkout clicked through by a visitor,
 * with their cookie and the page's own CSRF token, which no CSRF check tells apart).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ')

/**
 * Gives every answer of `server` the shop's security headers, errors and mounted handlers
 * included: {@link CONTENT_SECURITY_POLICY}, `X-Frame-Options: SAMEORIGIN` for browsers that read
 * no CSP, and `X-Content-Type-Options: nosniff`, so no answer (a JSON body holding a visitor's
 * text, a problem) is ever taken for HTML or a script by its content. A handler's own policy
 * (the development mailbox's, the analytics dashboard's) is kept.
 */
export function setSecurityHeaders(server: FastifyInstance): void {
  server.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('x-frame-options')) reply.header('x-frame-options', 'SAMEORIGIN')
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
    }
    if (!reply.hasHeader('x-content-type-options'))
      reply.header('x-content-type-options', 'nosniff')
    return payload
  })
}
