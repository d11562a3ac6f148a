import { describe, expect, it } from 'vitest'
import { MemoryThrottleStore } from '../throttle/index.js'
import type { ThrottleReservation, ThrottleRule, ThrottleStore } from '../throttle/index.js'
import { failingThrottleStoreCases } from './throttle-store-conformance.js'

interface State {
  count: number
  windowEndsMs: number
  lockedUntilMs: number
  lockouts: number
}

/**
 * The design the kit exists to refuse: the state machine of the contract, done right one call
 * at a time, but read and then written with a round trip in between, as a store that checks
 * and then records does.
 */
class CheckThenRecordStore implements ThrottleStore {
  readonly #states = new Map<string, State>()

  async reserve(key: string, rule: ThrottleRule, nowMs: number): Promise<ThrottleReservation> {
    const state = { ...(this.#states.get(key) ?? fresh()) }
    await new Promise((resolve) => setImmediate(resolve))
    if (state.lockedUntilMs > nowMs) {
      return {
        allowed: false,
        retryAfterMs: state.lockedUntilMs - nowMs,
        lockedNow: false,
        lockouts: state.lockouts,
      }
    }
    const open = state.windowEndsMs > nowMs
    if (open && state.count >= rule.limit) {
      const remembered = state.lockedUntilMs + rule.forgetMs > nowMs
      const lockouts = (remembered ? state.lockouts : 0) + 1
      const durationMs = Math.min(rule.lockoutMs * 2 ** (lockouts - 1), rule.maxLockoutMs)
      this.#states.set(key, {
        count: 0,
        windowEndsMs: 0,
        lockedUntilMs: nowMs + durationMs,
        lockouts,
      })
      return { allowed: false, retryAfterMs: durationMs, lockedNow: true, lockouts }
    }
    const windowEndsMs = open ? state.windowEndsMs : nowMs + rule.windowMs
    this.#states.set(key, { ...state, count: open ? state.count + 1 : 1, windowEndsMs })
    return { allowed: true, windowEndsMs }
  }

  async release(key: string, windowEndsMs: number): Promise<void> {
    const state = this.#states.get(key)
    if (state !== undefined && state.windowEndsMs === windowEndsMs && state.count > 0) {
      state.count -= 1
    }
  }

  async reset(key: string): Promise<void> {
    this.#states.delete(key)
  }
}

function fresh(): State {
  return { count: 0, windowEndsMs: 0, lockedUntilMs: 0, lockouts: 0 }
}

describe('throttleStoreConformance', () => {
  it('passes a correct store on every case', async () => {
    expect(await failingThrottleStoreCases(new MemoryThrottleStore())).toEqual([])
  })

  it('fails a store that checks and then records, on the cases with parallel attempts and only there', async () => {
    const failed = await failingThrottleStoreCases(new CheckThenRecordStore())
    expect(failed).toEqual([
      expect.stringMatching(/parallel attempts through, and locks exactly once/),
      expect.stringMatching(/parallel wrong passwords/),
      expect.stringMatching(/random sequences of attempts, bursts/),
    ])
  })
})
