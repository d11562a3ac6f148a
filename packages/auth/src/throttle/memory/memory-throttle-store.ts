import type { ThrottleReservation, ThrottleRule, ThrottleStore } from '../throttle-store.js'

interface Entry {
  count: number
  windowEndsMs: number
  lockedUntilMs: number
  lockouts: number
  expiresAtMs: number
}

/**
 * A {@link ThrottleStore} in a `Map` of this process: for tests, and for a single-process app
 * that accepts that a restart forgets every counter. `reserve` reads and writes an entry with no
 * `await` in between, so it is atomic on the event loop. Expired entries are swept as it writes.
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

  async reserve(key: string, rule: ThrottleRule, nowMs: number): Promise<ThrottleReservation> {
    // An occasional sweep keeps memory bounded without a timer to own and stop.
    if (++this.#writes % 1024 === 0) this.#sweep(nowMs)
    let entry = this.#entries.get(key)
    if (entry === undefined || entry.expiresAtMs <= nowMs) {
      entry = { count: 0, windowEndsMs: 0, lockedUntilMs: 0, lockouts: 0, expiresAtMs: 0 }
      this.#entries.set(key, entry)
    }
    if (entry.lockedUntilMs > nowMs) {
      return {
        allowed: false,
        retryAfterMs: entry.lockedUntilMs - nowMs,
        lockedNow: false,
        lockouts: entry.lockouts,
      }
    }
    const open = entry.windowEndsMs > nowMs
    if (open && entry.count >= rule.limit) {
      const remembered = entry.lockedUntilMs + rule.forgetMs > nowMs
      entry.lockouts = (remembered ? entry.lockouts : 0) + 1
      const durationMs = Math.min(
        rule.lockoutMs * 2 ** Math.min(entry.lockouts - 1, 30),
        rule.maxLockoutMs,
      )
      entry.lockedUntilMs = nowMs + durationMs
      entry.count = 0
      entry.windowEndsMs = 0
      entry.expiresAtMs = entry.lockedUntilMs + rule.forgetMs
      return { allowed: false, retryAfterMs: durationMs, lockedNow: true, lockouts: entry.lockouts }
    }
    entry.count = open ? entry.count + 1 : 1
    if (!open) entry.windowEndsMs = nowMs + rule.windowMs
    entry.expiresAtMs = Math.max(entry.windowEndsMs, entry.lockedUntilMs + rule.forgetMs)
    return { allowed: true, windowEndsMs: entry.windowEndsMs }
  }

  async release(key: string, windowEndsMs: number): Promise<void> {
    const entry = this.#entries.get(key)
    if (entry !== undefined && entry.windowEndsMs === windowEndsMs && entry.count > 0) {
      entry.count -= 1
    }
  }

  async reset(key: string): Promise<void> {
    this.#entries.delete(key)
  }

  /** The number of entries held, expired ones not yet swept included. */
  get size(): number {
    return this.#entries.size
  }

  #sweep(nowMs: number): void {
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAtMs <= nowMs) this.#entries.delete(key)
    }
  }
}
