import { isTimeZone, wallTime } from '@mortar/core'
import { AnalyticsConfigError, AnalyticsQueryError } from '../errors.js'

/** The bucket sizes of time series and retention periods. */
export type Interval = 'hour' | 'day' | 'week'

const HOUR = 3_600_000
const DAY = 86_400_000

/** Throws an `AnalyticsConfigError` when the runtime does not know the time zone. */
export function checkTimeZone(timeZone: string): void {
  if (!isTimeZone(timeZone)) {
    throw new AnalyticsConfigError(
      `Unknown time zone '${timeZone}': use an IANA name such as 'UTC' or 'Europe/Paris'.`,
    )
  }
}

/** The offset of `timeZone` from UTC at the instant `ms`, in milliseconds. */
export function zoneOffset(ms: number, timeZone: string): number {
  return wallTime(ms, timeZone).offsetMs
}

/** The instant a wall-clock time in `timeZone` names (the later one in a repeated hour). */
function instantOf(wallUtc: number, timeZone: string): number {
  let guess = wallUtc - zoneOffset(wallUtc, timeZone)
  guess = wallUtc - zoneOffset(guess, timeZone)
  return guess
}

/** The start of the local hour, day or ISO week (Monday) holding `ms` in `timeZone`. */
export function startOf(interval: Interval, ms: number, timeZone: string): number {
  const w = wallTime(ms, timeZone)
  if (interval === 'hour') {
    return instantOf(Date.UTC(w.year, w.month - 1, w.day, w.hour), timeZone)
  }
  let date = Date.UTC(w.year, w.month - 1, w.day)
  if (interval === 'week') date -= ((new Date(date).getUTCDay() + 6) % 7) * DAY
  // A day that starts inside a skipped hour starts at the first instant that exists.
  const start = instantOf(date, timeZone)
  return start > ms ? startOf(interval, ms - HOUR, timeZone) : start
}

/** The start of the local hour, day or week after the one starting at `start`. */
export function nextStart(interval: Interval, start: number, timeZone: string): number {
  // Past every DST-shortened period and short of the one after a lengthened one.
  const step = interval === 'hour' ? 1.5 * HOUR : interval === 'day' ? 1.5 * DAY : 7.5 * DAY
  return startOf(interval, start + step, timeZone)
}

// Each period costs a few zone conversions on the calling thread: a range of any two Dates by
// the hour would block the process for hours, so a query takes at most this many.
const MAX_PERIODS = 10_000
const LENGTH: Record<Interval, number> = { hour: HOUR, day: DAY, week: 7 * DAY }

/**
 * The starts of the local periods overlapping `[from, to)`, plus the end of the last one; an
 * {@link AnalyticsQueryError} past 10,000 periods (a longer interval or a shorter range then).
 */
export function periodBounds(
  interval: Interval,
  from: number,
  to: number,
  timeZone: string,
): number[] {
  // Refused before any work when far past (a DST change shifts the count by one or two), and
  // exactly while counting.
  if ((to - from) / LENGTH[interval] > MAX_PERIODS + 2) throw tooMany(interval)
  const bounds = [startOf(interval, from, timeZone)]
  while ((bounds.at(-1) as number) < to) {
    if (bounds.length > MAX_PERIODS) throw tooMany(interval)
    bounds.push(nextStart(interval, bounds.at(-1) as number, timeZone))
  }
  return bounds
}

function tooMany(interval: Interval): AnalyticsQueryError {
  return new AnalyticsQueryError(
    `The range holds more than ${MAX_PERIODS} ${interval}s; query a shorter range or a longer interval.`,
  )
}

/** The local calendar day (`2026-03-01`) of `ms` in `timeZone`. */
export function localDay(ms: number, timeZone: string): string {
  const w = wallTime(ms, timeZone)
  return `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`
}
