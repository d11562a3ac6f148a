import { describeOption } from '@mortar/core'
import { NotifyConfigError } from '../errors.js'

// Node's timers take at most 2^31 − 1 ms; past it, and for NaN or a negative, they fire at once.
export const MAX_TIMER_MS = 2_147_483_647

/**
 * A duration option that becomes a timer (a request timeout, a poll or check interval): given,
 * it must be a number of ms from 1 to 2^31 − 1. A `NaN` (an unset variable through `Number()`)
 * or a month-long value would otherwise fire at once and fail every send.
 */
export function delayOption(what: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!(typeof value === 'number' && value >= 1 && value <= MAX_TIMER_MS)) {
    throw new NotifyConfigError(
      `${what} must be a number of milliseconds from 1 to ${MAX_TIMER_MS}; got ${describeOption(value)}.`,
    )
  }
  return value
}
