import type { ThrottleExpiry, ThrottleLock, ThrottleStore } from '../throttle-store.js'

interface Entry {
  count: number
  lock: ThrottleLock | undefined
  expiresAtMs: number
}

/**
 * A {@link ThrottleStore} in a `Map` of this process: for tests, and for a single-process app
 * that accepts that a restart forgets every counter. Expired entries are swept as it writes.
 *
 * @example
 * ```ts
 * import { LoginThrottle, MemoryThrottleStore } from '@mortar/auth'
 * import { SystemClock } from '@mortar/core'
 *
 * const throttle = new LoginThrottle({ store: new MemoryThrottleStore(), clock: new SystemClock() })
 * ```
 */
export class MemoryThrottleStore implements ThrottleStore {
  readonly #entries = new Map<string, Entry>()
  #writes = 0

  async increment(key: string, expiry: ThrottleExpiry): Promise<number> {
    const entry = this.#write(key, expiry)
    entry.count += 1
    return entry.count
  }

  async counts(keys: readonly string[]): Promise<number[]> {
    return keys.map((key) => this.#entries.get(key)?.count ?? 0)
  }

  async getLock(key: string): Promise<ThrottleLock | undefined> {
    return this.#entries.get(key)?.lock
  }

  async setLock(key: string, lock: ThrottleLock, expiry: ThrottleExpiry): Promise<void> {
    this.#write(key, expiry).lock = { untilMs: lock.untilMs, lockouts: lock.lockouts }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.#entries.delete(key)
  }

  /** The number of entries held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size
  }

  #write(key: string, { nowMs, ttlMs }: ThrottleExpiry): Entry {
    // An occasional sweep keeps memory bounded without a timer to own and stop.
    if (++this.#writes % 1024 === 0) this.#sweep(nowMs)
    let entry = this.#entries.get(key)
    if (entry === undefined || entry.expiresAtMs <= nowMs) {
      entry = { count: 0, lock: undefined, expiresAtMs: 0 }
      this.#entries.set(key, entry)
    }
    entry.expiresAtMs = Math.max(entry.expiresAtMs, nowMs + ttlMs)
    return entry
  }

  #sweep(nowMs: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAtMs <= nowMs) this.#entries.delete(key)
    }
  }
}
