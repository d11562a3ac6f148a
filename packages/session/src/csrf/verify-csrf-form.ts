import { currentRequestContext } from '@mortar/core'

/**
 * Completes the CSRF check of a form request that sent neither `Origin` nor `Sec-Fetch-Site`
 * nor the token header (old browsers): compares the form's `_csrf` field with the session's
 * token. Until it passes, such a request has no principal and its session refuses access
 * (fail closed). Call it once the body is parsed, for every request: it does nothing when no
 * check is pending. Throws `CsrfError` (403) on a missing or wrong token.
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
