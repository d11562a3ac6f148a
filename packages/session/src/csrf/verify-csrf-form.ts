import { currentRequestContext } from '@mortar/core'

/**
 * Completes the CSRF check of a form post that sent neither `Origin` nor `Sec-Fetch-Site` nor
 * the token header (browsers from before 2020), when the session module accepts form tokens
 * (`csrf: { formField: '_csrf' }`): compares the form's field with the session's token. Until it
 * passes, the request's principal and session throw `CsrfError` when read, and its response is
 * replaced by a 403 (fail closed). Call it once the body is parsed and before the handler, for
 * every request: it does nothing when no check is pending. Throws `CsrfError` (403) on a missing
 * or wrong token.
 *
 * @example
 * ```ts
 * import { verifyCsrfForm } from '@mortar/session'
 *
 * fastify.addHook('preHandler', async (request) => {
 *   await verifyCsrfForm(request.body)
 * })
 * ```
 */
export async function verifyCsrfForm(body: unknown): Promise<void> {
  const current = currentRequestContext()?.get('session')
  if (current === undefined) return
  await current.settleCsrf(body)
}
