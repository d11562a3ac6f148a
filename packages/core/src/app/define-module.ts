import type { CliCommand } from '../cli/cli-command.js'
import type { Binder } from '../di/binder.js'
import type { JobDefinition } from '../jobs/define-job.js'
import type { ScheduleDefinition } from '../jobs/schedules/schedule.js'
import type { ModuleMigrations } from '../persistence/migrations/index.js'
import type { App } from './app.js'

/**
 * A unit of an app: it binds its providers, and may start and stop what it owns (a pool, a
 * worker, a timer). `C` is the app config it reads.
 */
export interface ModuleDefinition<C = unknown> {
  /** Unique in the app; start-up errors and logs name the module by it. */
  readonly name: string
  /** Binds this module's providers. Runs once, when the app is created. */
  readonly register: (binder: Binder<C>) => void
  /** Runs during `app.start()`, in module order, after every singleton was created. */
  readonly onStart?: (app: App<C>) => void | Promise<void>
  /** Runs during `app.stop()`, in reverse module order, within the stop deadline. */
  readonly onStop?: (app: App<C>) => void | Promise<void>
  /**
   * This module's migrations by name (`'0001_create_products': { up, down }`), recorded as
   * `<module>/<name>`; `app.migrate()` runs them in module order, each module's in name order.
   */
  readonly migrations?: ModuleMigrations
  /**
   * The background jobs this module runs (made by `defineJob`). Names are unique in the app;
   * workers of this app run them, and `enqueue` refuses a job no module declares.
   */
  readonly jobs?: readonly JobDefinition[]
  /**
   * Recurring work (made by `schedule`): each tick runs once across every process of the app.
   * Names share the namespace of job names.
   */
  readonly schedules?: readonly ScheduleDefinition[]
  /** Commands this module adds to the `mortar` bin (`mortar notify status`). */
  readonly commands?: readonly CliCommand[]
}

/** A module made by {@link defineModule}. */
export type Module<C = unknown> = Readonly<ModuleDefinition<C>>

/**
 * Defines a module. `register` binds tokens or classes to values, classes or factories; `onStart`
 * and `onStop` own the module's long-lived resources.
 *
 * @example
 * ```ts
 * import { defineModule, LOGGER, token } from '@mortar/core'
 *
 * export class Pool { async close() {} }
 * export const POOL = token<Pool>('db.pool')
 *
 * export const databaseModule = defineModule({
 *   name: 'database',
 *   register(binder) {
 *     binder.bind(POOL, { inject: [LOGGER], useFactory: async () => new Pool() })
 *   },
 *   async onStop(app) {
 *     await app.resolve(POOL).close()
 *   },
 * })
 * ```
 */
export function defineModule<C = unknown>(definition: ModuleDefinition<C>): Module<C> {
  if (typeof definition.name !== 'string' || definition.name.trim() === '') {
    throw new TypeError('defineModule needs a non-empty name; errors and logs use it.')
  }
  if (typeof definition.register !== 'function') {
    throw new TypeError(`Module '${definition.name}' needs a register(binder) function.`)
  }
  return Object.freeze({ ...definition })
}
