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

/**
 * Lets the routes of `server`'s scope take HTML forms: {@link parseForms}, and `verifyCsrfForm`,
 * which checks the `_csrf` field of a form post that sent neither `Origin` nor `Sec-Fetch-Site`
 * when the session module accepts form tokens (`csrf: { formField: '_csrf' }`). The shop leaves
 * them off: every browser of this decade sends one of those headers, and a session request
 * without either (nor the token header) is refused before any route runs.
 */
export function acceptForms(server: FastifyInstance): void {
  parseForms(server)
  server.addHook('preHandler', async (request) => {
    await verifyCsrfForm(request.body)
  })
}
