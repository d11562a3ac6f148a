import { verifyCsrfForm } from '@mortar/session'
import type { FastifyInstance } from 'fastify'

/**
 * Lets the routes of `server`'s scope take HTML forms: parses `application/x-www-form-urlencoded`
 * bodies (Fastify parses only JSON) into plain objects, and checks the `_csrf` field of form
 * posts from browsers that send neither `Origin` nor `Sec-Fetch-Site` (`verifyCsrfForm`).
 */
export function acceptForms(server: FastifyInstance): void {
  server.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)))
    },
  )
  server.addHook('preHandler', async (request) => {
    await verifyCsrfForm(request.body)
  })
}
