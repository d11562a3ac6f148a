/**
 * Options of the CSRF guard that `sessionModule` installs.
 *
 * @example
 * ```ts
 * import { sessionModule } from '@mortar/session'
 * import { z } from 'zod'
 *
 * sessionModule({
 *   cookieName: 'shop.session',
 *   password: process.env.SESSION_PASSWORD ?? '',
 *   schema: z.object({}),
 *   csrf: { trustedOrigins: ['https://admin.shop.example'] },
 * })
 * ```
 */
export interface CsrfOptions {
  /**
   * Origins besides the request's own (`scheme://host[:port]`) that may send unsafe requests with
   * the session cookie, such as a separate admin front end.
   */
  readonly trustedOrigins?: readonly string[]
  /** The request header that carries the token. Default `x-csrf-token`. */
  readonly headerName?: string
  /**
   * Accept the token in this form field (`'_csrf'`, say) for form posts that carry neither
   * `Origin` nor `Sec-Fetch-Site` nor the token header, which only browsers from before 2020
   * send. Such a request's identity is withheld until `verifyCsrfForm(body)` finds the token:
   * the session and the principal throw `CsrfError` when read, and a response the request sends
   * without proving itself is replaced by a 403. Off by default: those requests are refused before
   * any handler runs.
   */
  readonly formField?: string
}
