import { globalToken } from '../di/token.js'

/**
 * Where code reads the time, so tests can control it. Inject it through {@link CLOCK} instead of
 * calling `Date.now()`.
 *
 * @example
 * ```ts
 * import { CLOCK, type Clock } from '@mortar/core'
 * import { inject, injectable } from 'tsyringe'
 *
 * @injectable()
 * class TokenIssuer {
 *   constructor(@inject(CLOCK) private readonly clock: Clock) {}
 *   expiresAt(): Date {
 *     return new Date(this.clock.nowMs() + 15 * 60_000)
 *   }
 * }
 * ```
 */
export interface Clock {
  /** The current instant as a new `Date`. */
  now(): Date
  /** The current instant in milliseconds since the Unix epoch. */
  nowMs(): number
}

/**
 * The real {@link Clock}, reading the system time.
 *
 * @example
 * ```ts
 * import { SystemClock } from '@mortar/core'
 *
 * const clock = new SystemClock()
 * console.log(clock.now().toISOString())
 * ```
 */
export class SystemClock implements Clock {
  now(): Date {
    return new Date()
  }

  nowMs(): number {
    return Date.now()
  }
}

/**
 * The app's {@link Clock}: a {@link SystemClock} in production, a `FakeClock` from
 * `@mortar/core/testing` in tests.
 *
 * @example
 * ```ts
 * import { CLOCK } from '@mortar/core'
 *
 * const clock = app.resolve(CLOCK)
 * ```
 */
export const CLOCK = globalToken<Clock>('mortar.clock')
