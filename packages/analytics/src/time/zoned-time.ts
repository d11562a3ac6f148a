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
  if (interval === 'hour') return hourStart(ms, w.minute, w.second, timeZone)
  let date = Date.UTC(w.year, w.month - 1, w.day)
  if (interval === 'week') date -= ((new Date(date).getUTCDay() + 6) % 7) * DAY
  const start = instantOf(date, timeZone)
  if (start > ms) return startOf(interval, ms - HOUR, timeZone)
  if (wallDate(start, timeZone) >= date) return start
  // The midnight was skipped (Havana springs from 00:00 to 01:00): the instant its wall time
  // names is still the day before, and the day starts at the first instant that exists, the
  // change.
  let low = start
  let high = ms
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    if (wallDate(middle, timeZone) >= date) high = middle
    else low = middle
  }
  return high
}

/** The local calendar date of `ms`, as the UTC instant of its midnight. */
function wallDate(ms: number, timeZone: string): number {
  const w = wallTime(ms, timeZone)
  return Date.UTC(w.year, w.month - 1, w.day)
}

/**
 * The start of the local hour holding `ms`: its wall minutes and seconds back, or the offset
 * change inside them. Not the instant its wall hour names: in a repeated hour (autumn's 01:00 in
 * New York, 02:00 in Paris) that is one of two, and taking the later one started the first
 * occurrence's hour after its own instants (they fell out of every bucket) or ended the hour
 * before at its own start (the bounds never moved on).
 */
function hourStart(ms: number, minute: number, second: number, timeZone: string): number {
  const candidate = ms - minute * 60_000 - second * 1_000 - (((ms % 1_000) + 1_000) % 1_000)
  const offset = zoneOffset(ms, timeZone)
  if (zoneOffset(candidate, timeZone) === offset) return candidate
  // The offset changed within the hour's minutes (Lord Howe's half-hour shifts): the hour, as
  // the clock shows it, started at the change.
  return offsetChange(candidate, ms, timeZone)
}

/**
 * The first millisecond after `low`, up to `high`, whose UTC offset in `timeZone` is `high`'s:
 * the instant of the one offset change between two instants whose offsets differ.
 */
export function offsetChange(low: number, high: number, timeZone: string): number {
  const after = zoneOffset(high, timeZone)
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    if (zoneOffset(middle, timeZone) === after) high = middle
    else low = middle
  }
  return high
}

/** The start of the local hour, day or week after the one starting at `start`. */
export function nextStart(interval: Interval, start: number, timeZone: string): number {
  // An hour's end is its start's next hour at most an hour on (sooner where the offset changes).
  if (interval === 'hour') return startOf('hour', start + HOUR, timeZone)
  // Past every DST-shortened period and short of the one after a lengthened one.
  const step = interval === 'day' ? 1.5 * DAY : 7.5 * DAY
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
