import type { Clock } from './clock.js'
import { describeOption } from '../validation/number-in.js'

const DEFAULT_START = Date.UTC(2026, 0, 1)

/**
 * A {@link Clock} that stands still until a test moves it. It starts at the instant given, or at
 * 2026-01-01T00:00:00Z, so time-dependent tests are repeatable.
 *
 * @example
 * ```ts
 * import { CLOCK } from '@mortar/core'
 * import { FakeClock } from '@mortar/core/testing'
 *
 * const clock = new FakeClock('2026-03-01T09:00:00Z')
 * clock.advance(15 * 60_000)
 * clock.now().toISOString() // '2026-03-01T09:15:00.000Z'
 * ```
 */
export class FakeClock implements Clock {
  #ms: number

  constructor(start: Date | number | string = DEFAULT_START) {
    this.#ms = toMs(start)
  }

  now(): Date {
    return new Date(this.#ms)
  }

  nowMs(): number {
    return this.#ms
  }

  /** Jumps to an instant, forwards or backwards. */
  set(instant: Date | number | string): void {
    this.#ms = toMs(instant)
  }

  /** Moves forward by `ms` milliseconds; a negative amount is refused, use {@link FakeClock.set}. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(
        `FakeClock.advance takes a finite, non-negative number of ms; got ${describeOption(ms)}.`,
      )
    }
    this.#ms += ms
  }
}

function toMs(instant: Date | number | string): number {
  const ms =
    instant instanceof Date
      ? instant.getTime()
      : typeof instant === 'string'
        ? Date.parse(instant)
        : instant
  if (!Number.isFinite(ms))
    throw new RangeError(`FakeClock needs a valid instant; got ${describeOption(instant)}.`)
  return ms
}
