import { currentRequestContext, type Principal, globalToken, UnauthorizedError } from '@mortar/core'
import type { AccessControl } from '../access-control/access-control.js'
import type { Row } from '../policy/compile-condition.js'
import { markPublic } from './authorization-record.js'
import { methodDecorator } from './method-decorator.js'

/**
 * The app's {@link AccessControl}, which `@Authorize` resolves from the request's scope. Bind it
 * with {@link accessControlModule}.
 *
 * @example
 * ```ts
 * import { ACCESS_CONTROL } from '@mortar/auth'
 *
 * const access = app.resolve(ACCESS_CONTROL)
 * ```
 */
export const ACCESS_CONTROL = globalToken<AnyAccessControl>('mortar.auth.access_control')

/** An {@link AccessControl} over any database, as the {@link ACCESS_CONTROL} token holds it. */
export type AnyAccessControl = AccessControl<
  Record<string, Record<string, unknown>>,
  Principal,
  string
>

/** Options of {@link Authorize}. */
export interface AuthorizeOptions<Args extends readonly unknown[]> {
  /**
   * The row the method acts on, from its arguments (loaded if need be); when it gives no row
   * (`undefined`: nothing was found), the call is denied. Without this option the check is
   * row-less: it passes unless the principal may never do the action, and the method must then
   * filter its queries with `access.filter`.
   */
  readonly row?: (...args: Args) => object | undefined | Promise<object | undefined>
}

/**
 * Authorizes a service method before it runs: reads the principal from the request context,
 * resolves {@link ACCESS_CONTROL} from the request's scope and calls `authorize(principal,
 * action, resource, row)`. An anonymous caller that is denied gets a 401; others get the
 * policy's 403 or 404. The method's result is returned unchanged.
 *
 * @example
 * ```ts
 * import { Authorize } from '@mortar/auth'
 *
 * class TripService {
 *   @Authorize('cancel', 'trip', { row: (trip: Trip) => trip })
 *   async cancel(trip: Trip) {
 *     await this.trips.setStatus(trip.id, 'cancelled')
 *   }
 * }
 * ```
 */
export function Authorize<Args extends readonly unknown[]>(
  action: string,
  resource: string,
  options: AuthorizeOptions<Args> = {},
) {
  return methodDecorator<Args>(
    (method) =>
      async function (this: unknown, ...args: Args) {
        const context = currentRequestContext()
        if (context === undefined) {
          throw new UnauthorizedError(
            `@Authorize('${action}', '${resource}') ran outside a request: there is no principal to check. Call the method from a request, or use AccessControl directly.`,
          )
        }
        const principal = context.get('principal')
        const access = context.resolve(ACCESS_CONTROL)
        if (principal === undefined && access.can(undefined, action, resource) === 'never') {
          throw new UnauthorizedError()
        }
        if (options.row === undefined) {
          await access.authorize(principal, action, resource)
        } else {
          // A `row` that finds none is denied, never taken for a check without a row.
          await access.authorize(principal, action, resource, (await options.row(...args)) as Row)
        }
        return Reflect.apply(method, this, args)
      },
  )
}

/**
 * Marks a handler method public: it may read protected tables without an authorization call
 * (see `verifyAuthorized`). Use it for data anyone may see, such as a list of cities.
 *
 * @example
 * ```ts
 * import { Public } from '@mortar/auth'
 *
 * class CityController {
 *   @Public()
 *   list() {
 *     return this.cities.all()
 *   }
 * }
 * ```
 */
export function Public() {
  return methodDecorator<never[]>(
    (method) =>
      function (this: unknown, ...args) {
        markPublic()
        return method.apply(this, args)
      },
  )
}
