import { verifyCsrfForm } from '@mortar/session'
import type { FastifyInstance } from 'fastify'

/**
 * Parses `application/x-www-form-urlencoded` bodies (Fastify parses only JSON) into plain objects
 * of strings, for the routes of `server`'s scope; a field sent twice keeps its last value.
 */
export function parseForms(server: FastifyInstance): void {
  server.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)))
    },
  )
}

/** The form field that carries the session's CSRF token in every form the pages render. */
export const CSRF_FIELD = '_csrf'

/**
 * Lets the routes of `server`'s scope take HTML forms: {@link parseForms}, and `verifyCsrfForm`,
 * which checks the {@link CSRF_FIELD} of a form post that sent neither `Origin` nor
 * `Sec-Fetch-Site` when the session module accepts form tokens (`csrf: { formField: '_csrf' }`).
 * The shop leaves them off: every browser of this decade sends one of those headers, and a
 * session request without either (nor the token header) is refused before any route runs.
 * The field is then taken out of the body: it is no route's input, and a route reading every
 * field (the notification settings) refused each form a browser sent for it.
 */
export function acceptForms(server: FastifyInstance): void {
  parseForms(server)
  server.addHook('preHandler', async (request) => {
    await verifyCsrfForm(request.body)
    const body = request.body
    if (typeof body === 'object' && body !== null && CSRF_FIELD in body) {
      delete (body as Record<string, unknown>)[CSRF_FIELD]
    }
  })
}
