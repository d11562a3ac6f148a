import { accessControlModule, PASSWORD_HASHER, PasswordHasher } from '@mortar/auth'
import { defineModule, type Module, PAGINATOR, Paginator } from '@mortar/core'
import type { RidesConfig } from '../config.js'
import { RIDES_DB } from './rides-db.js'
import { ridesMigrations } from './rides-migrations.js'
import { RIDES_ACCESS, ridesPolicy } from './rides-policy.js'

/** Options of {@link ridesModule}. */
export interface RidesModuleOptions {
  /** The password hasher; OWASP's scrypt cost by default (tests pass a cheaper one). */
  readonly hasher?: PasswordHasher
}

/**
 * The rides domain: its tables, the password hasher and the trip paginator. Its policy is served
 * by `accessControlModule` (see {@link ridesAccessModule}).
 */
export function ridesModule(options: RidesModuleOptions = {}): Module<RidesConfig> {
  return defineModule<RidesConfig>({
    name: 'rides',
    migrations: ridesMigrations,
    register(binder) {
      binder.bind(PASSWORD_HASHER, { useValue: options.hasher ?? new PasswordHasher() })
      binder.bind(PAGINATOR, { useValue: new Paginator({ key: binder.config.paginationKey }) })
    },
  })
}

/**
 * The rides policy as the app's access control, under {@link RIDES_ACCESS}. Outside production
 * it also fails any request that read `trips` without an authorization call.
 */
export function ridesAccessModule(): Module {
  return accessControlModule({ policy: ridesPolicy, database: RIDES_DB, token: RIDES_ACCESS })
}
