/**
 * Options of the CSRF guard that `sessionModule` installs.
 *
 * @example
 * ```ts
 * import { sessionModule } from '@mortar/session'
 * import { z } from 'zod'
 *
 * sessionModule({
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
  /** The form field that carries the token, read by `verifyCsrfForm`. Default `_csrf`. */
  readonly fieldName?: string
}
