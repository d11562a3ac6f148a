import {
  CLOCK,
  DATABASE,
  defineModule,
  EVENT_BUS,
  type EventBus,
  isMortarError,
  type Module,
  REDIS,
  schedule,
} from '@mortar/core'
import type { Kysely } from 'kysely'
import { KyselyThrottleStore, loginThrottleMigrations } from './kysely/index.js'
import { LOGIN_THROTTLE, LoginThrottle, type LoginThrottleOptions } from './login-throttle.js'
import { MemoryThrottleStore } from './memory/index.js'
import { RedisThrottleStore } from './redis/index.js'
import { suspiciousActivitySchema } from './suspicious-activity.js'
import type { ThrottleStore } from './throttle-store.js'

/** Options of {@link loginThrottleModule}: the limits of `LoginThrottle`, and a store. */
export interface LoginThrottleModuleOptions
  extends Omit<LoginThrottleOptions, 'store' | 'clock' | 'events'> {
  /**
   * `'memory'` (one process, forgotten on restart), `'database'` (the app's database, table by
   * migration), `'redis'` (the app's Redis from `createApp({ redis })`, under its prefix), or
   * any {@link ThrottleStore}.
   */
  readonly store: 'memory' | 'database' | 'redis' | ThrottleStore
}

/**
 * A module binding `LOGIN_THROTTLE` to a {@link LoginThrottle} on the app's clock and event bus,
 * with its store. `'database'` adds the `mortar_login_throttle` migration to the app's, and an
 * hourly schedule (`login-throttle.prune-expired`) that deletes expired rows; `'redis'` uses
 * the app's shared Redis connection (`createApp({ redis })`). At start-up it gives
 * `security.suspicious_activity` its schema on the bus.
 *
 * @example
 * ```ts
 * import { loginThrottleModule } from '@mortar/auth'
 * import { createApp } from '@mortar/core'
 *
 * const app = createApp({
 *   database: 'sqlite:./var/app.db',
 *   modules: [loginThrottleModule({ store: 'database', account: { maxFailures: 5 } })],
 * })
 * await app.migrate()
 * await app.start()
 * ```
 */
export function loginThrottleModule(options: LoginThrottleModuleOptions): Module {
  const { store, ...limits } = options
  return defineModule({
    name: 'login-throttle',
    ...(store === 'database'
      ? { migrations: loginThrottleMigrations, schedules: [pruneExpiredRows] }
      : {}),
    register(binder) {
      if (store === 'database') {
        binder.bind(LOGIN_THROTTLE, {
          inject: [CLOCK, EVENT_BUS, DATABASE],
          useFactory: (clock, events, database) => {
            // Outside the request's transaction, so a failed login stays counted when the
            // request rolls back. SQLite has one connection, held by an open transaction: there
            // the transaction-aware instance is the only one that cannot wait for itself.
            const db = (
              database.engine === 'sqlite' ? database.kysely : database.root
            ) as Kysely<unknown>
            return new LoginThrottle({
              ...limits,
              clock,
              events,
              store: new KyselyThrottleStore({ db }),
            })
          },
        })
        return
      }
      if (store === 'redis') {
        binder.bind(LOGIN_THROTTLE, {
          inject: [CLOCK, EVENT_BUS, REDIS],
          useFactory: (clock, events, redis) =>
            new LoginThrottle({
              ...limits,
              clock,
              events,
              store: new RedisThrottleStore({ client: redis.client, prefix: redis.prefix }),
            }),
        })
        return
      }
      binder.bind(LOGIN_THROTTLE, {
        inject: [CLOCK, EVENT_BUS],
        useFactory: (clock, events) =>
          new LoginThrottle({
            ...limits,
            clock,
            events,
            store: store === 'memory' ? new MemoryThrottleStore() : store,
          }),
      })
    },
    onStart(app) {
      defineEvent(app.resolve(EVENT_BUS))
    },
  })
}

// Expired counters and lockouts are also deleted every few hundred increments; this schedule
// cleans up after traffic that stopped, so the table never keeps rows nobody will read.
const pruneExpiredRows = schedule(
  'login-throttle.prune-expired',
  { every: '1h' },
  async (tick, job) => {
    const database = job.resolve(DATABASE)
    const store = new KyselyThrottleStore({ db: database.root as Kysely<unknown> })
    const pruned = await store.pruneExpired(tick.at.getTime())
    job.logger.debug({ pruned }, 'Expired login-throttle rows pruned')
  },
)

function defineEvent(bus: EventBus): void {
  try {
    bus.define('security.suspicious_activity', suspiciousActivitySchema)
  } catch (error) {
    // Another throttle module in the same app defined it already: one schema, same event.
    if (!(isMortarError(error) && error.code === 'E_EVENT_ALREADY_DEFINED')) throw error
  }
}
