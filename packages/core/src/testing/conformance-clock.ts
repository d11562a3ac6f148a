import { strictEqual } from 'node:assert/strict'
import { FakeClock } from '../clock/fake-clock.js'

/**
 * How a conformance kit moves time. A simulated clock jumps to any instant, so the kit checks a
 * rule to the millisecond with long leases and no waiting. The real clock serves engines that
 * keep their own time (BullMQ stamps jobs and expires leases in Redis): there the kit waits, with
 * short leases, and reads until the engine has caught up with an instant that passed.
 */
export interface ConformanceClock {
  /** How long a lease lasts. */
  readonly lease: number
  now(): number
  /**
   * To just before `instant`: one millisecond before on a simulated clock; the real one does not
   * wait, as it cannot stop exactly there (the instant is still ahead).
   */
  almost(instant: number): Promise<void>
  /** To `instant`, waiting for it on the real clock. */
  reach(instant: number): Promise<void>
  /**
   * The first value of `read` that `done` accepts; on a simulated clock the first value (time
   * stands still), on the real one read again until the engine's own timers catch up, returning
   * the last value when they never do.
   */
  settle<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T>
  /**
   * Checks an instant the adapter reports: exactly on a simulated clock, within a lease on the
   * real one, where the engine stamps it with its own reading.
   */
  near(actual: number | undefined, expected: number, message: string): void
}

/** A simulated clock from 2026-01-01, moved by hand, with 30 s leases. */
export function simulatedClock(): ConformanceClock {
  const clock = new FakeClock()
  return {
    lease: 30_000,
    now: () => clock.nowMs(),
    async almost(instant) {
      clock.set(instant - 1)
    },
    async reach(instant) {
      clock.set(instant)
    },
    settle: (read) => read(),
    near(actual, expected, message) {
      strictEqual(actual, expected, message)
    },
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The system clock with leases of `lease` ms; `settle` reads for at most 20 leases. */
export function realClock(lease: number): ConformanceClock {
  return {
    lease,
    now: () => Date.now(),
    async almost() {},
    async reach(instant) {
      const left = instant - Date.now()
      if (left > 0) await sleep(left)
    },
    async settle(read, done) {
      const deadline = Date.now() + 20 * lease
      let value = await read()
      while (!done(value) && Date.now() < deadline) {
        await sleep(Math.max(10, lease / 20))
        value = await read()
      }
      return value
    },
    near(actual, expected, message) {
      strictEqual(
        actual !== undefined && Math.abs(actual - expected) <= lease,
        true,
        `${message}: ${actual} is not within ${lease} ms of ${expected}`,
      )
    },
  }
}
