/**
 * The limits a {@link ThrottleStore} applies to one key, all in milliseconds. Built by
 * `LoginThrottle` from its options; every number is a positive integer (`forgetMs` may be 0).
 */
export interface ThrottleRule {
  /** Attempts a window allows; the next one locks the key. */
  readonly limit: number
  /** A window opens at the first attempt after the last one closed, and lasts this long. */
  readonly windowMs: number
  /** The first lockout; the n-th in a row lasts `lockoutMs · 2^(n−1)`, at most `maxLockoutMs`. */
  readonly lockoutMs: number
  readonly maxLockoutMs: number
  /** Lockouts in a row are forgotten this long after the last one ended. */
  readonly forgetMs: number
}

/** What {@link ThrottleStore.reserve} answered. */
export type ThrottleReservation =
  | {
      readonly allowed: true
      /** The end of the window the attempt was counted in: give it back to `release`. */
      readonly windowEndsMs: number
    }
  | {
      readonly allowed: false
      /** Milliseconds until the lockout ends. */
      readonly retryAfterMs: number
      /** True for the one reservation that started this lockout, false for those refused by it. */
      readonly lockedNow: boolean
      /** Lockouts in a row, this one included. */
      readonly lockouts: number
    }

/**
 * Where a `LoginThrottle` keeps, per key, the attempts of the current window and the lockout.
 * Keys are short opaque strings (digests, never an account or an address).
 *
 * There is no read-then-write in this contract: `reserve` counts the attempt and answers whether
 * it may go ahead in one atomic step, before the password is hashed, so N concurrent attempts on
 * a key whose limit is 5 let exactly 5 through, and exactly one of the rest starts the lockout.
 * A store must keep the state machine below exactly (`throttleStoreConformance` from
 * `@mortar/auth/testing` checks it, concurrency included); per key, at `nowMs`:
 *
 * 1. locked (`lockedUntil > nowMs`): refused, nothing counted, the lockout not extended;
 * 2. else, if the window is open (`windowEnds > nowMs`) and holds `limit` attempts: refused and
 *    locked now for the next lockout in a row; the window is emptied, so the count restarts at 0
 *    when the lockout ends;
 * 3. else: allowed and counted, in the open window or in a new one ending at `nowMs + windowMs`.
 *
 * Implementations: {@link MemoryThrottleStore}, {@link KyselyThrottleStore},
 * {@link RedisThrottleStore}.
 *
 * @example
 * ```ts
 * import type { ThrottleRule, ThrottleStore } from '@mortar/auth'
 *
 * const rule: ThrottleRule = { limit: 5, windowMs: 900_000, lockoutMs: 60_000, maxLockoutMs: 3_600_000, forgetMs: 86_400_000 }
 *
 * async function tryOnce(store: ThrottleStore, key: string, check: () => Promise<boolean>) {
 *   const reservation = await store.reserve(key, rule, Date.now())
 *   if (!reservation.allowed) return `wait ${reservation.retryAfterMs} ms`
 *   if (await check()) await store.reset(key)
 *   return 'tried'
 * }
 * ```
 */
export interface ThrottleStore {
  /** Counts one attempt on `key` and answers, in the same atomic step, whether it may run. */
  reserve(key: string, rule: ThrottleRule, nowMs: number): Promise<ThrottleReservation>
  /**
   * Gives back one allowed attempt (it succeeded), if the window it was counted in is still the
   * key's; otherwise does nothing.
   */
  release(key: string, windowEndsMs: number): Promise<void>
  /** Forgets the key: attempts, lockout and lockouts in a row. A missing key is ignored. */
  reset(key: string): Promise<void>
}
