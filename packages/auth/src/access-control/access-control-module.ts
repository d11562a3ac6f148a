import { defineModule, type Module, type Token } from '@mortar/core'
import type { Kysely } from 'kysely'
import { ACCESS_CONTROL } from '../authorize/authorize.js'
import type { Policy } from '../policy/policy.js'
import { AccessControl } from './access-control.js'

/** Options of {@link accessControlModule}. */
export interface AccessControlModuleOptions<DB, P, A extends string> {
  readonly policy: Policy<DB, P, A>
  /** The database that runs relation conditions of point checks (`databaseToken<DB>()`). */
  readonly database?: Token<Kysely<DB>>
}

/**
 * A module that binds {@link ACCESS_CONTROL} to an {@link AccessControl} over `policy`, so that
 * `@Authorize` and services resolve one shared instance.
 *
 * @example
 * ```ts
 * import { accessControlModule } from '@mortar/auth'
 * import { createApp, databaseToken } from '@mortar/core'
 *
 * const app = createApp({
 *   database: 'sqlite:./var/rides.db',
 *   modules: [accessControlModule({ policy: ridesPolicy, database: databaseToken<RidesDb>() })],
 * })
 * ```
 */
export function accessControlModule<DB, P, A extends string>(
  options: AccessControlModuleOptions<DB, P, A>,
): Module {
  const { policy, database } = options
  return defineModule({
    name: 'auth.access-control',
    register(binder) {
      const key = ACCESS_CONTROL as unknown as Token<AccessControl<DB, P, A>>
      if (database === undefined) {
        binder.bind(key, { useValue: new AccessControl({ policy }) })
      } else {
        binder.bind(key, {
          inject: [database],
          useFactory: (db) => new AccessControl({ policy, db }),
        })
      }
    },
  })
}
