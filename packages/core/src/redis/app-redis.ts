import type { Redis, RedisOptions as IORedisOptions } from 'ioredis'
import { globalToken, type Token } from '../di/token.js'
import { thrownText } from '../errors/thrown-text.js'
import type { Logger } from '../logger/logger.js'
import { RedisError } from './redis-error.js'
import { parseRedisUrl } from './redis-url.js'

/** The `redis` option of `createApp`: a URL, or a URL and the prefix of every key. */
export type AppRedisOption =
  | string
  | {
      /** `redis://[:password@]host[:port][/db]`, or `rediss://` for TLS. */
      readonly url: string
      /**
       * Put before every key the app writes (sessions, throttle, jobs), so several apps or
       * test runs share one Redis; default `mortar:`.
       */
      readonly prefix?: string
    }

const DEFAULT_PREFIX = 'mortar:'
const PREFIX = /^[\w.:-]{1,64}$/

type RedisClass = new (url: string, options: IORedisOptions) => Redis

/**
 * The app's Redis, bound under {@link REDIS} when `createApp({ redis })` is given: one shared
 * command connection and the key prefix, used by the session registry, the login throttle and
 * the BullMQ engine. Connected during `app.start()` (a `RedisError` when it cannot be), closed
 * on `app.stop()` with every connection opened through {@link AppRedis.open}. ioredis is an
 * optional peer, loaded only then.
 *
 * @example
 * ```ts
 * import { createApp, REDIS } from '@mortar/core'
 *
 * const app = createApp({ modules: [], redis: { url: 'redis://127.0.0.1:6379', prefix: 'shop:' } })
 * await app.start()
 * const redis = app.resolve(REDIS)
 * await redis.client.set(`${redis.prefix}hello`, 'world')
 * ```
 */
export class AppRedis {
  /** Put before every key the app writes. */
  readonly prefix: string
  /** The URL without its password: what logs show. */
  readonly display: string
  readonly #url: string
  readonly #logger: Logger
  #Redis: RedisClass | undefined
  #client: Redis | undefined
  readonly #opened = new Set<Redis>()
  /** Set by {@link AppRedis.close}: nothing opens after it, or it would stay open for good. */
  #closed = false

  /** Checks the setting (a `RedisError` with `E_REDIS_URL` when bad); connects nothing. */
  constructor(option: AppRedisOption, logger: Logger) {
    const { url, prefix = DEFAULT_PREFIX } = typeof option === 'string' ? { url: option } : option
    if (typeof url !== 'string')
      throw new RedisError('E_REDIS_URL', 'The redis setting has no url.')
    this.display = parseRedisUrl(url).display
    if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
      throw new RedisError(
        'E_REDIS_URL',
        'The redis prefix must be 1 to 64 letters, digits or . : _ - (like `shop:`).',
      )
    }
    this.#url = url
    this.prefix = prefix
    this.#logger = logger
  }

  /** The shared command connection; a command fails at once while Redis is unreachable. */
  get client(): Redis {
    if (this.#client === undefined) {
      throw new RedisError(
        'E_REDIS_UNREACHABLE',
        "The app's Redis is used before app.start() connected it (or after app.stop()).",
      )
    }
    return this.#client
  }

  /** Loads ioredis and opens the shared connection; called by `app.start()`. */
  async connect(): Promise<void> {
    if (this.#client !== undefined) return
    // Fail a command at once rather than queue it while retrying forever: callers fail closed.
    this.#client = await this.open({ maxRetriesPerRequest: 1 })
  }

  /**
   * Opens another connection to the same Redis, owned by the app and closed on stop: for
   * blocking commands and for clients that need their own options (BullMQ wants
   * `maxRetriesPerRequest: null`).
   */
  async open(options: Pick<IORedisOptions, 'maxRetriesPerRequest'> = {}): Promise<Redis> {
    this.#refuseClosed()
    const Redis = await this.#driver()
    this.#refuseClosed()
    const client = new Redis(this.#url, { lazyConnect: true, ...options })
    // ioredis reconnects by itself; without a listener each failed attempt is an unhandled event.
    client.on('error', (error: Error) => {
      this.#logger.warn({ err: error }, `Redis at ${this.display} failed`)
    })
    try {
      await client.connect()
    } catch (error) {
      client.disconnect()
      throw new RedisError(
        'E_REDIS_UNREACHABLE',
        `Cannot reach Redis at ${this.display}: check that Redis runs there.`,
        { cause: error instanceof Error ? new Error(thrownText(error)) : undefined },
      )
    }
    if (this.#closed) {
      // Connected while close() ran: closed here, as close() did not see it.
      client.disconnect()
      this.#refuseClosed()
    }
    this.#opened.add(client)
    // One closed by its owner (a connection dropped as unresponsive) is not kept for close().
    client.once('end', () => this.#opened.delete(client))
    return client
  }

  #refuseClosed(): void {
    if (this.#closed) {
      throw new RedisError(
        'E_REDIS_UNREACHABLE',
        "The app's Redis was closed (app.stop() ran); nothing opens on it after that.",
      )
    }
  }

  /** Closes every connection; called by `app.stop()`. */
  async close(): Promise<void> {
    this.#closed = true
    const clients = [...this.#opened]
    this.#opened.clear()
    this.#client = undefined
    await Promise.all(
      clients.map(async (client) => {
        if (client.status === 'end') return
        const ended = new Promise((resolve) => client.once('end', resolve))
        try {
          await client.quit()
        } catch {
          client.disconnect()
        }
        await ended
      }),
    )
  }

  async #driver(): Promise<RedisClass> {
    if (this.#Redis !== undefined) return this.#Redis
    try {
      this.#Redis = (await import('ioredis')).Redis as unknown as RedisClass
    } catch (error) {
      throw new RedisError(
        'E_REDIS_DRIVER',
        "The app's redis setting needs the ioredis package: run `npm i ioredis`.",
        { cause: error instanceof Error ? error : undefined },
      )
    }
    return this.#Redis
  }
}

/**
 * The app's {@link AppRedis}, bound when `createApp({ redis })` is given.
 *
 * @example
 * ```ts
 * import { defineModule, REDIS } from '@mortar/core'
 *
 * const visits = defineModule({
 *   name: 'visits',
 *   register: (binder) =>
 *     binder.bind(VisitCounter, {
 *       inject: [REDIS],
 *       useFactory: (redis) => new VisitCounter(redis.client, `${redis.prefix}visits:`),
 *     }),
 * })
 * ```
 */
export const REDIS: Token<AppRedis> = globalToken<AppRedis>('mortar.redis')
