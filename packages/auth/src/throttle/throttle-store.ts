/** A lockout as a {@link ThrottleStore} keeps it. */
export interface ThrottleLock {
  /** When the lockout ends, in ms since the epoch (by the throttle's clock). */
  readonly untilMs: number
  /** Lockouts in a row, this one included; the next lockout lasts twice as long. */
  readonly lockouts: number
}

/** When an entry written to a {@link ThrottleStore} may be forgotten. */
export interface ThrottleExpiry {
  /** The throttle's current time, in ms since the epoch. */
  readonly nowMs: number
  /** Keep the entry at least this long after `nowMs`; a store may keep it longer. */
  readonly ttlMs: number
}

/**
 * Where a `LoginThrottle` keeps its counters and lockouts. Keys are short, opaque strings (no
 * account names or addresses). Expiry only frees space: the throttle never relies on an entry
 * having vanished, because counters are per time window and a lockout records its end, both
 * judged by the throttle's own clock. `increment` must be atomic; the rest need not be.
 * Implementations: {@link MemoryThrottleStore}, {@link KyselyThrottleStore},
 * {@link RedisThrottleStore}.
 *
 * @example
 * ```ts
 * import type { ThrottleStore } from '@mortar/auth'
 *
 * async function failuresSoFar(store: ThrottleStore, key: string): Promise<number> {
 *   const [count] = await store.counts([key])
 *   return count ?? 0
 * }
 * ```
 */
export interface ThrottleStore {
  /** Adds one to the counter `key` (a missing counter starts at 0) and returns the new value. */
  increment(key: string, expiry: ThrottleExpiry): Promise<number>
  /** The values of the counters, in order; 0 for a missing one. */
  counts(keys: readonly string[]): Promise<number[]>
  /** The lockout stored under `key`, if any (ended ones included, until they expire). */
  getLock(key: string): Promise<ThrottleLock | undefined>
  /** Stores a lockout under `key`, replacing any. */
  setLock(key: string, lock: ThrottleLock, expiry: ThrottleExpiry): Promise<void>
  /** Deletes counters and lockouts; missing keys are ignored. */
  delete(keys: readonly string[]): Promise<void>
}
