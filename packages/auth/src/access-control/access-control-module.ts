import {
  DATABASE,
  databaseToken,
  defineModule,
  type Module,
  onBeforeResponse,
  type Token,
} from '@mortar/core'
import type { Kysely } from 'kysely'
import { AuthorizationGuardPlugin } from '../authorize/authorization-guard-plugin.js'
import { ACCESS_CONTROL } from '../authorize/authorize.js'
import { verifyAuthorized } from '../authorize/verify-authorized.js'
import type { Policy } from '../policy/policy.js'
import { AccessControl } from './access-control.js'

/** How {@link accessControlModule} verifies that requests authorized what they read. */
export interface VerifyAuthorizedSetting {
  /**
   * Require an authorization call (or `@Public()`) in every request, not only in those that
   * read or changed a protected table. Default `false`.
   */
  readonly strict?: boolean
}

/** Options of {@link accessControlModule}. */
export interface AccessControlModuleOptions<DB, P, A extends string> {
  readonly policy: Policy<DB, P, A>
  /**
   * The database that runs relation conditions of point checks and that query filters compile
   * for (see `AccessControl.create`); the app's database (`databaseToken<DB>()`) when omitted,
   * so an app without one must name its own.
   */
  readonly database?: Token<Kysely<DB>>
  /**
   * A typed token of the app's own that resolves the same {@link AccessControl} as
   * {@link ACCESS_CONTROL} (which is typed for any policy).
   */
  readonly token?: Token<AccessControl<DB, P, A>>
  /**
   * Pundit's `verify_authorized`, automatic: every request that read or changed a table of `policy`
   * without an authorization call (`can`, `authorize`, `filter`, `where`, `@Authorize`) and
   * without `@Public()` / `markPublic()` fails with a 500 `E_AUTH_NOT_VERIFIED` problem instead
   * of sending what it read. Statements are tracked on the app's database (`createApp({ database })`).
   * Default: on unless `NODE_ENV` is `'production'`, read when the app starts; `false` turns it
   * off, `{ strict: true }` requires a check in every request.
   */
  readonly verifyAuthorized?: boolean | VerifyAuthorizedSetting
}

/**
 * A module that binds {@link ACCESS_CONTROL} (and `token`, when given) to an
 * {@link AccessControl} over `policy`, so that `@Authorize` and services resolve one shared
 * instance. Outside production it also fails, with a 500 `E_AUTH_NOT_VERIFIED`, every request
 * that read or changed a protected table without authorizing (see `verifyAuthorized` in the options): it
 * adds an {@link AuthorizationGuardPlugin} to the app's database and a before-response hook that
 * runs `verifyAuthorized()` after each successful handler, before anything is sent.
 *
 * @example
 * ```ts
 * import { accessControlModule } from '@mortar/auth'
 * import { createApp } from '@mortar/core'
 *
 * const app = createApp({
 *   database: 'sqlite:./var/rides.db',
 *   modules: [accessControlModule({ policy: ridesPolicy })],
 * })
 * ```
 */
export function accessControlModule<DB, P, A extends string>(
  options: AccessControlModuleOptions<DB, P, A>,
): Module {
  const { policy, database, token } = options
  // Per app, so one module value may serve several apps (as tests do).
  const removeHooks = new WeakMap<object, () => void>()
  return defineModule({
    name: 'auth.access-control',
    register(binder) {
      const key = ACCESS_CONTROL as unknown as Token<AccessControl<DB, P, A>>
      // Created when the app starts, after its migrations: PostgreSQL's column types are read then.
      binder.bind(key, {
        inject: [database ?? databaseToken<DB>()],
        useFactory: (db) => AccessControl.create({ policy, db }),
      })
      if (token !== undefined) {
        binder.bind(token, { inject: [key], useFactory: (access) => access })
      }
    },
    onStart(app) {
      const setting = options.verifyAuthorized ?? process.env.NODE_ENV !== 'production'
      if (setting === false) return
      const strict = setting !== true && setting.strict === true
      // Reads are tracked where every service's queries go: the app's database, in transactions
      // too. An app whose Kysely is its own adds the AuthorizationGuardPlugin to it by hand.
      if (app.container.isRegistered(DATABASE)) {
        app.resolve(DATABASE).addPlugin(new AuthorizationGuardPlugin({ tables: policy.resources }))
      }
      const remove = onBeforeResponse(app, () => verifyAuthorized({ enabled: true, strict }))
      removeHooks.set(app, remove)
    },
    onStop(app) {
      removeHooks.get(app)?.()
      removeHooks.delete(app)
    },
  })
}
