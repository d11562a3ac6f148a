import {
  CLOCK,
  DATABASE,
  defineModule,
  EVENT_BUS,
  type EventBus,
  isMortarError,
  LOGGER,
  type Logger,
  type Module,
  schedule,
} from '@mortar/core'
import type { Kysely } from 'kysely'
import { LoginThrottleUnavailableError } from '../errors.js'
import { KyselyThrottleStore, loginThrottleMigrations } from './kysely/index.js'
import { LOGIN_THROTTLE, LoginThrottle, type LoginThrottleOptions } from './login-throttle.js'
import { MemoryThrottleStore } from './memory/index.js'
import { type RedisThrottleClient, RedisThrottleStore } from './redis/index.js'
import { suspiciousActivitySchema } from './suspicious-activity.js'
import type { ThrottleStore } from './throttle-store.js'

/** Where {@link loginThrottleModule} keeps counters: Redis, given a URL or your own client. */
export type RedisThrottleStoreChoice = (
  | {
      /** `redis://[:password@]host:port[/db]`; the module connects on start and quits on stop. */
      readonly url: string
      readonly client?: never
    }
  | {
      /** Your client (ioredis or compatible); you connect and close it. */
      readonly client: RedisThrottleClient
      readonly url?: never
    }
) & {
  /** Put before every key; default `mortar:`. */
  readonly prefix?: string
}

/** Options of {@link loginThrottleModule}: the limits of `LoginThrottle`, and a store. */
export interface LoginThrottleModuleOptions
  extends Omit<LoginThrottleOptions, 'store' | 'clock' | 'events'> {
  /**
   * `'memory'` (one process, forgotten on restart), `'database'` (the app's database, table by
   * migration), `{ redis: … }`, or any {@link ThrottleStore}.
   */
  readonly store:
    | 'memory'
    | 'database'
    | { readonly redis: RedisThrottleStoreChoice }
    | ThrottleStore
}

interface OwnedClient extends RedisThrottleClient {
  connect(): Promise<void>
  quit(): Promise<unknown>
  disconnect(): void
  on(event: 'error', listener: (error: Error) => void): unknown
}

/**
 * A module binding `LOGIN_THROTTLE` to a {@link LoginThrottle} on the app's clock and event bus,
 * with its store. `'database'` adds the `mortar_login_throttle` migration to the app's, and an
 * hourly schedule (`login-throttle.prune-expired`) that deletes expired rows; Redis
 * loads ioredis (an optional peer) only when chosen. At start-up it gives
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
  let owned: OwnedClient | undefined
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
      binder.bind(LOGIN_THROTTLE, {
        inject: [CLOCK, EVENT_BUS, LOGGER],
        useFactory: async (clock, events, logger) => {
          let chosen: ThrottleStore
          if (store === 'memory') chosen = new MemoryThrottleStore()
          else if ('redis' in store) {
            const { url, client, prefix } = store.redis
            if (client !== undefined) chosen = new RedisThrottleStore({ client, prefix })
            else {
              owned = await connect(url, logger)
              chosen = new RedisThrottleStore({ client: owned, prefix })
            }
          } else chosen = store
          return new LoginThrottle({ ...limits, clock, events, store: chosen })
        },
      })
    },
    onStart(app) {
      defineEvent(app.resolve(EVENT_BUS))
    },
    async onStop() {
      const client = owned
      owned = undefined
      if (client === undefined) return
      try {
        await client.quit()
      } catch {
        client.disconnect()
      }
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

async function connect(url: string, logger: Logger): Promise<OwnedClient> {
  let Redis: new (url: string, options: Record<string, unknown>) => OwnedClient
  try {
    Redis = (await import('ioredis')).Redis as unknown as typeof Redis
  } catch (error) {
    throw new LoginThrottleUnavailableError(
      'The Redis login throttle needs the ioredis package: run `npm i ioredis`.',
      { cause: error },
    )
  }
  // Fail a command at once rather than queue it while retrying forever: logins fail closed.
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  client.on('error', (error) => {
    logger.warn({ err: error }, `Login throttle: Redis at ${redactUrl(url)} failed`)
  })
  try {
    await client.connect()
  } catch (error) {
    client.disconnect()
    throw new LoginThrottleUnavailableError(
      `Cannot reach the login throttle's Redis at ${redactUrl(url)}: check that Redis runs there.`,
      { cause: error },
    )
  }
  return client
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(invalid URL)'
  }
}
