import type { ThrottleReservation, ThrottleRule, ThrottleStore } from '../throttle-store.js'

/**
 * The few Redis commands the store calls. Typed by shape rather than by importing ioredis, so an
 * app that never uses Redis does not need it installed and any compatible client fits.
 */
export interface RedisThrottleClient {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  del(...keys: string[]): Promise<number>
}

/** Options of {@link RedisThrottleStore}. */
export interface RedisThrottleStoreOptions {
  readonly client: RedisThrottleClient
  /** Put before every key, so several apps (or test runs) share one Redis; default `mortar:`. */
  readonly prefix?: string
}

// The transition of `ThrottleStore` in one script, which Redis runs with no other command in
// between: read the hash, decide, write it and its TTL. The TTL is relative (PEXPIRE), since
// `now` is the throttle's clock, not Redis's. Fields: c count, w window end, u lockout end,
// n lockouts in a row. Answers {1, windowEnds} or {0, retryAfterMs, lockedNow, lockouts}.
const RESERVE = `
local now = tonumber(ARGV[1])
local limit, window, lockout = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local maxLockout, forget = tonumber(ARGV[5]), tonumber(ARGV[6])
local s = redis.call('hmget', KEYS[1], 'c', 'w', 'u', 'n')
local count, ends = tonumber(s[1]) or 0, tonumber(s[2]) or 0
local lockedUntil, lockouts = tonumber(s[3]) or 0, tonumber(s[4]) or 0
if lockedUntil > now then return {0, lockedUntil - now, 0, lockouts} end
if ends > now and count >= limit then
  if lockedUntil + forget <= now then lockouts = 0 end
  lockouts = lockouts + 1
  local duration = math.min(lockout * 2 ^ math.min(lockouts - 1, 30), maxLockout)
  redis.call('hset', KEYS[1], 'c', 0, 'w', 0, 'u', now + duration, 'n', lockouts)
  redis.call('pexpire', KEYS[1], duration + forget)
  return {0, duration, 1, lockouts}
end
if ends > now then count = count + 1 else count, ends = 1, now + window end
redis.call('hset', KEYS[1], 'c', count, 'w', ends, 'u', lockedUntil, 'n', lockouts)
redis.call('pexpire', KEYS[1], math.max(1, math.max(ends, lockedUntil + forget) - now))
return {1, ends}
`

const RELEASE = `
local s = redis.call('hmget', KEYS[1], 'c', 'w')
if tonumber(s[2]) == tonumber(ARGV[1]) and (tonumber(s[1]) or 0) > 0 then
  redis.call('hincrby', KEYS[1], 'c', -1)
end
return 0
`

/**
 * A {@link ThrottleStore} on Redis: each key a hash (attempts in the window, its end, the
 * lockout) with a TTL, under one prefix, and each reservation one Lua script, so it is atomic
 * across every instance of an app and limits hold across machines.
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

  async reserve(key: string, rule: ThrottleRule, nowMs: number): Promise<ThrottleReservation> {
    const answer = (await this.#client.eval(
      RESERVE,
      1,
      this.#key(key),
      Math.floor(nowMs),
      rule.limit,
      rule.windowMs,
      rule.lockoutMs,
      rule.maxLockoutMs,
      rule.forgetMs,
    )) as number[]
    const [allowed, value = 0, lockedNow, lockouts = 0] = answer.map(Number)
    if (allowed === 1) return { allowed: true, windowEndsMs: value }
    return { allowed: false, retryAfterMs: value, lockedNow: lockedNow === 1, lockouts }
  }

  async release(key: string, windowEndsMs: number): Promise<void> {
    await this.#client.eval(RELEASE, 1, this.#key(key), windowEndsMs)
  }

  async reset(key: string): Promise<void> {
    await this.#client.del(this.#key(key))
  }

  #key(key: string): string {
    return `${this.#prefix}${key}`
  }
}
