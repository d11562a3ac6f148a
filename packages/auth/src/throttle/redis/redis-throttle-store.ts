import type { ThrottleExpiry, ThrottleLock, ThrottleStore } from '../throttle-store.js'

/**
 * The few Redis commands the store calls. Typed by shape rather than by importing ioredis, so an
 * app that never uses Redis does not need it installed and any compatible client fits.
 */
export interface RedisThrottleClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  mget(...keys: string[]): Promise<(string | null)[]>
  get(key: string): Promise<string | null>
  set(key: string, value: string, mode: 'PX', milliseconds: number): Promise<unknown>
  del(...keys: string[]): Promise<number>
}

/** Options of {@link RedisThrottleStore}. */
export interface RedisThrottleStoreOptions {
  readonly client: RedisThrottleClient
  /** Put before every key, so several apps (or test runs) share one Redis; default `mortar:`. */
  readonly prefix?: string
}

// INCR and PEXPIRE in one script: a crash between the two would leave a counter that never
// expires. The TTL only grows, so a long-lived key is never cut short.
const INCREMENT = `
local count = redis.call('incr', KEYS[1])
if redis.call('pttl', KEYS[1]) < tonumber(ARGV[1]) then redis.call('pexpire', KEYS[1], ARGV[1]) end
return count
`

/**
 * A {@link ThrottleStore} on Redis: each counter a key bumped by `INCR` with a TTL, each lockout
 * a string `untilMs:lockouts` with a TTL, all under one prefix. Shared by every instance of an
 * app, so limits hold across machines.
 *
 * @example
 * ```ts
 * import { LoginThrottle, RedisThrottleStore } from '@mortar/auth'
 * import { SystemClock } from '@mortar/core'
 * import { Redis } from 'ioredis'
 *
 * const store = new RedisThrottleStore({ client: new Redis(), prefix: 'shop:' })
 * const throttle = new LoginThrottle({ store, clock: new SystemClock() })
 * ```
 */
export class RedisThrottleStore implements ThrottleStore {
  readonly #client: RedisThrottleClient
  readonly #prefix: string

  constructor(options: RedisThrottleStoreOptions) {
    this.#client = options.client
    this.#prefix = `${options.prefix ?? 'mortar:'}login-throttle:`
  }

  async increment(key: string, { ttlMs }: ThrottleExpiry): Promise<number> {
    return Number(await this.#client.eval(INCREMENT, 1, this.#key(key), Math.ceil(ttlMs)))
  }

  async counts(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return []
    const values = await this.#client.mget(...keys.map((key) => this.#key(key)))
    return values.map((value) => (value === null ? 0 : Number(value)))
  }

  async getLock(key: string): Promise<ThrottleLock | undefined> {
    const value = await this.#client.get(this.#key(key))
    const match = value === null ? null : /^(\d+):(\d+)$/.exec(value)
    if (match === null) return undefined
    return { untilMs: Number(match[1]), lockouts: Number(match[2]) }
  }

  async setLock(key: string, lock: ThrottleLock, { ttlMs }: ThrottleExpiry): Promise<void> {
    const value = `${Math.round(lock.untilMs)}:${lock.lockouts}`
    await this.#client.set(this.#key(key), value, 'PX', Math.max(1, Math.ceil(ttlMs)))
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.#client.del(...keys.map((key) => this.#key(key)))
  }

  #key(key: string): string {
    return `${this.#prefix}${key}`
  }
}
