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
 * Lets the routes of `server`'s scope take HTML forms: {@link parseForms}, and a check of the
 * `_csrf` field of form posts from browsers that send neither `Origin` nor `Sec-Fetch-Site`
 * (`verifyCsrfForm`).
 */
export function acceptForms(server: FastifyInstance): void {
  parseForms(server)
  server.addHook('preHandler', async (request) => {
    await verifyCsrfForm(request.body)
  })
}
