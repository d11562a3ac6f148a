import { AuthorizationNotVerifiedError } from '../errors.js'
import { authorizationRecord } from './authorization-record.js'
import { methodDecorator } from './method-decorator.js'

/** Options of {@link verifyAuthorized} and {@link VerifyAuthorized}. */
export interface VerifyAuthorizedOptions {
  /**
   * Require an authorization call in every request, not only in those that read a protected
   * table (which needs the {@link AuthorizationGuardPlugin} on the database). Default `false`.
   */
  readonly strict?: boolean
  /** Whether to verify at all; by default outside production (`NODE_ENV !== 'production'`). */
  readonly enabled?: boolean
}

function enabledByDefault(): boolean {
  return process.env.NODE_ENV !== 'production'
}

/**
 * Throws {@link AuthorizationNotVerifiedError} when the current request read a protected table
 * (or, with `strict`, did anything) without an authorization call and without being marked
 * public: Pundit's `verify_authorized`. Call it at the end of a handler, or use
 * {@link VerifyAuthorized}. Does nothing outside a request or when disabled.
 *
 * @example
 * ```ts
 * import { verifyAuthorized } from '@mortar/auth'
 *
 * app.get('/trips', async () => {
 *   const trips = await tripService.list()
 *   verifyAuthorized()
 *   return trips
 * })
 * ```
 */
export function verifyAuthorized(options: VerifyAuthorizedOptions = {}): void {
  if (!(options.enabled ?? enabledByDefault())) return
  const record = authorizationRecord()
  if (record === undefined || record.checked || record.public) return
  const [table] = record.tables
  if (table !== undefined) throw new AuthorizationNotVerifiedError(table)
  if (options.strict === true) throw new AuthorizationNotVerifiedError('a protected resource')
}

/**
 * Verifies, after a handler method returns and before its result is sent, that the request
 * authorized what it read (see {@link verifyAuthorized}); a request that did not fails with a
 * 500 in tests and development.
 *
 * @example
 * ```ts
 * import { VerifyAuthorized } from '@mortar/auth'
 *
 * class TripController {
 *   @VerifyAuthorized()
 *   async list() {
 *     return this.trips.list()
 *   }
 * }
 * ```
 */
export function VerifyAuthorized(options: VerifyAuthorizedOptions = {}) {
  return methodDecorator<never[]>(
    (method) =>
      function (this: unknown, ...args) {
        const result = method.apply(this, args)
        if (result instanceof Promise) {
          return result.then((value) => {
            verifyAuthorized(options)
            return value
          })
        }
        verifyAuthorized(options)
        return result
      },
  )
}
