import { session } from '../cookie/session.js'

/**
 * The current session's CSRF token, to embed in a form as the `_csrf` field or send from
 * scripts as the `x-csrf-token` header. It changes when the session is regenerated (at login).
 *
 * @example
 * ```ts
 * import { csrfToken } from '@mortar/session'
 *
 * const form = `<form method="post" action="/profile">
 *   <input type="hidden" name="_csrf" value="${csrfToken()}">
 * </form>`
 * ```
 */
export function csrfToken(): string {
  return session().csrfToken()
}
