import { isTimeZone, ValidationError, wallTime } from '@mortar/core'
/** A daily window of local wall-clock time, `'22:00'` to `'07:00'` (it may run past midnight). */
export interface QuietHours {
  readonly start: string
  readonly end: string
}

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/

/** True for a time of day as `'HH:MM'` (00:00 to 23:59). */
export function isTimeOfDay(time: string): boolean {
  return TIME.test(time)
}

/** Minutes since midnight of `'HH:MM'`; throws `E_VALIDATION` (naming `path`) for anything else. */
export function minutesOfDay(time: string, path = 'time'): number {
  const match = typeof time === 'string' ? TIME.exec(time) : null
  if (match === null) {
    throw invalid(path, 'Not a time of day as HH:MM (00:00 to 23:59).', 'invalid_time')
  }
  return Number(match[1]) * 60 + Number(match[2])
}

/**
 * `now` as ms and the zone, checked: an invalid date read as NaN and an unknown zone threw the
 * runtime's RangeError out of the helpers below.
 */
function checkedInstant(now: Date, timeZone: string): number {
  const ms = now instanceof Date ? now.getTime() : Number.NaN
  if (Number.isNaN(ms)) throw invalid('now', 'Not a valid date.', 'invalid_date')
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone)) {
    throw invalid('timeZone', 'Not a time zone this runtime knows.', 'invalid_time_zone')
  }
  return ms
}

function invalid(path: string, message: string, code: string): ValidationError {
  return new ValidationError([{ path, message, code }], `${path}: ${message}`)
}

interface LocalTime {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly minutes: number
}

function localTime(instant: number, timeZone: string): LocalTime {
  const wall = wallTime(instant, timeZone)
  return {
    year: wall.year,
    month: wall.month,
    day: wall.day,
    minutes: wall.hour * 60 + wall.minute,
  }
}

/**
 * The instant the local clock in `timeZone` shows `minutes` past midnight of the given day, the
 * first one after `after`. A time skipped by a daylight-saving jump moves later by the jump
 * (02:30 → 03:30); a repeated one takes its first occurrence after `after` (its second when
 * `after` falls between the two: the first is past), else its first, as Temporal's
 * 'compatible' disambiguation does.
 */
function instantOfLocal(
  year: number,
  month: number,
  day: number,
  minutes: number,
  timeZone: string,
  after: number,
): number {
  const wall = Date.UTC(year, month - 1, day, 0, minutes)
  // The offsets just before and after: the earlier candidate that shows the wall time wins, and
  // when neither does (a gap) the one under the offset from before the jump.
  const before = wall - wallTime(wall - 86_400_000, timeZone).offsetMs
  const afterJump = wall - wallTime(wall + 86_400_000, timeZone).offsetMs
  const shows = (instant: number) => {
    const local = localTime(instant, timeZone)
    return Date.UTC(local.year, local.month - 1, local.day, 0, local.minutes) === wall
  }
  const candidates = [Math.min(before, afterJump), Math.max(before, afterJump)].filter(shows)
  return candidates.find((instant) => instant > after) ?? candidates[0] ?? before
}

/**
 * When quiet hours end for someone in `timeZone`, if `now` falls inside them; `undefined` when
 * it does not. A window whose start and end are equal is empty. The end is never inside the
 * window: an end the clock skips (a daylight-saving jump) moves later by the jump, and when that
 * lands in the next window (a window of nearly a day) quiet hours go on to that one's end. An
 * invalid date, a zone the runtime does not know or a time not as `HH:MM` is refused
 * (`E_VALIDATION`, naming it).
 *
 * @example
 * ```ts
 * import { quietHoursEnd } from '@mortar/notify'
 *
 * // 23:30 in Paris, quiet from 22:00 to 07:00: sent at 07:00 Paris time
 * quietHoursEnd(new Date('2026-06-01T21:30:00Z'), 'Europe/Paris', { start: '22:00', end: '07:00' })
 * // → 2026-06-02T05:00:00.000Z
 * ```
 */
export function quietHoursEnd(now: Date, timeZone: string, window: QuietHours): Date | undefined {
  const at = checkedInstant(now, timeZone)
  const start = minutesOfDay(window?.start, 'window.start')
  const end = minutesOfDay(window?.end, 'window.end')
  if (start === end) return undefined
  let until = windowEnd(at, timeZone, start, end)
  if (until === undefined) return undefined
  // Only a skipped end lands inside a window, and the next day's end is no longer skipped.
  for (;;) {
    const next = windowEnd(until, timeZone, start, end)
    if (next === undefined) return new Date(until)
    until = next
  }
}

/** The end of the window `instant` is in, if it is in one (see {@link quietHoursEnd}). */
function windowEnd(
  instant: number,
  timeZone: string,
  start: number,
  end: number,
): number | undefined {
  const local = localTime(instant, timeZone)
  const inside =
    start < end
      ? local.minutes >= start && local.minutes < end
      : local.minutes >= start || local.minutes < end
  if (!inside) return undefined
  // The end is later today, or tomorrow when the window runs past midnight and it is evening.
  const tomorrow = start > end && local.minutes >= start
  const day = new Date(Date.UTC(local.year, local.month - 1, local.day + (tomorrow ? 1 : 0)))
  return instantOfLocal(
    day.getUTCFullYear(),
    day.getUTCMonth() + 1,
    day.getUTCDate(),
    end,
    timeZone,
    instant,
  )
}

/**
 * The next instant after `now` when the local clock in `timeZone` shows `time` (`'08:00'`): for
 * digests sent at a fixed time of day. Refuses (`E_VALIDATION`) what {@link quietHoursEnd} does.
 *
 * @example
 * ```ts
 * import { nextTimeOfDay } from '@mortar/notify'
 *
 * nextTimeOfDay(new Date('2026-06-01T10:00:00Z'), 'America/New_York', '08:00') // 2026-06-02T12:00:00.000Z
 * ```
 */
export function nextTimeOfDay(now: Date, timeZone: string, time: string): Date {
  const at = checkedInstant(now, timeZone)
  const minutes = minutesOfDay(time)
  const local = localTime(at, timeZone)
  for (let add = 0; add < 3; add++) {
    const day = new Date(Date.UTC(local.year, local.month - 1, local.day + add))
    const next = instantOfLocal(
      day.getUTCFullYear(),
      day.getUTCMonth() + 1,
      day.getUTCDate(),
      minutes,
      timeZone,
      at,
    )
    if (next > at) return new Date(next)
  }
  throw new Error(`No ${time} in ${timeZone} within two days of ${now.toISOString()}.`)
}

/**
 * A window in a zone as a delivery row keeps it (`'22:00-07:00 Europe/Paris'`), so that every
 * send of the delivery (a retry, a replay) is placed in the window the recipient had.
 */
export function storedQuietHours(window: QuietHours, timeZone: string): string {
  return `${window.start}-${window.end} ${timeZone}`
}

/**
 * {@link quietHoursEnd} of a window {@link storedQuietHours} wrote, at `now`, as `until` (ms).
 * A zone this runtime does not know (the row was written by a process whose runtime knew it:
 * another Node or ICU version, or the row was edited) is read as UTC, and `unknownZone` names
 * it: refused, it threw at every attempt of the delivery until its job died, for a courtesy
 * window. UTC keeps quiet hours roughly where they were for most recipients, and the delivery
 * goes on.
 */
export function storedQuietHoursEnd(
  stored: string,
  now: number,
): { readonly until: number | undefined; readonly unknownZone?: string } {
  // The zone after the first space; the times split at their one '-' (zones have hyphens too:
  // America/Port-au-Prince).
  const space = stored.indexOf(' ')
  const [start = '', end = ''] = stored.slice(0, space).split('-')
  const timeZone = stored.slice(space + 1)
  const known = isTimeZone(timeZone)
  const until = quietHoursEnd(new Date(now), known ? timeZone : 'UTC', { start, end })?.getTime()
  return known ? { until } : { until, unknownZone: timeZone }
}
