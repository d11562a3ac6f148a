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

/**
 * When quiet hours end for someone in `timeZone`, if `now` falls inside them; `undefined` when
 * it does not. A window whose start and end are equal is empty. Each night's window runs from
 * the first instant the local clock reaches its start to the first instant it reaches its end,
 * so a daylight-saving change neither shortens nor repeats it: an end the clock skips is the
 * jump itself (quiet until 02:30, clocks going from 02:00 to 03:00: sent at 03:00), and once
 * the clock falls back the window that ended (or started) in the repeated hour stays ended
 * (or started). When an end is reached only by a jump into the next window (a window of nearly
 * a day) quiet hours go on to that one's end. An invalid date, a zone the runtime does not know
 * or a time not as `HH:MM` is refused (`E_VALIDATION`, naming it).
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
  let until: number | undefined
  // Each end is later than the instant it was found from, and only a jump lands one in the
  // next window: this ends after a step or two.
  for (let next = windowEnd(at, timeZone, start, end); next !== undefined; ) {
    until = next
    next = windowEnd(until, timeZone, start, end)
  }
  return until === undefined ? undefined : new Date(until)
}

const SECOND = 1_000
const MINUTE = 60_000
const DAY = 86_400_000

/**
 * The end of the window `instant` is in, if it is in one (see {@link quietHoursEnd}). The
 * clock has reached a local time by `instant` when it showed it or a later one at or before
 * `instant`, so the windows are read against the latest local time shown so far, not the one
 * shown now (which repeats after a fall back).
 */
function windowEnd(
  instant: number,
  timeZone: string,
  start: number,
  end: number,
): number | undefined {
  const reached = latestWallTime(instant, timeZone)
  const day = Math.floor(reached / DAY) * DAY
  const minutes = Math.floor((reached - day) / MINUTE)
  const inside = start < end ? minutes >= start && minutes < end : minutes >= start || minutes < end
  if (!inside) return undefined
  // The end is later today, or tomorrow when the window runs past midnight and it is evening.
  const tomorrow = start > end && minutes >= start
  return firstInstantAtOrAfter(day + (tomorrow ? DAY : 0) + end * MINUTE, timeZone)
}

/** `instant` to the second, as the zone's offsets are. */
function wholeSecond(instant: number): number {
  return Math.floor(instant / SECOND) * SECOND
}

/**
 * The latest local wall time (as ms read as UTC) the clock in `timeZone` showed at or before
 * `instant`: the time now, or, within an hour the clock repeats, the time just before it fell
 * back.
 */
function latestWallTime(instant: number, timeZone: string): number {
  const offset = wallTime(instant, timeZone).offsetMs
  const wall = wholeSecond(instant) + offset
  const dayBefore = wallTime(instant - DAY, timeZone).offsetMs
  // No fall back within a day (no repeat lasts longer): the clock never showed later.
  if (dayBefore <= offset) return wall
  const fall = offsetChange(instant - DAY, instant, timeZone)
  return Math.max(wall, fall - SECOND + dayBefore)
}

/**
 * The first instant at or after which the local clock in `timeZone` shows `wall` (ms read as
 * UTC) or later: the instant it shows it (the first one, in an hour it repeats), or, when a
 * jump skips it, the jump.
 */
function firstInstantAtOrAfter(wall: number, timeZone: string): number {
  // The offsets a day either side hold on either side of any change near `wall`; each gives
  // the instant that would show it.
  const before = wallTime(wall - DAY, timeZone).offsetMs
  const after = wallTime(wall + DAY, timeZone).offsetMs
  const earlier = wall - Math.max(before, after)
  const later = wall - Math.min(before, after)
  for (const candidate of [earlier, later]) {
    if (wallTime(candidate, timeZone).offsetMs === wall - candidate) return candidate
  }
  // Neither shows it: the clock jumps over it between them.
  return offsetChange(earlier, later, timeZone)
}

/** The first instant (to the second) in (`from`, `to`] whose offset differs from `from`'s. */
function offsetChange(from: number, to: number, timeZone: string): number {
  const offset = wallTime(from, timeZone).offsetMs
  let [low, high] = [wholeSecond(from), wholeSecond(to)]
  while (high - low > SECOND) {
    const middle = wholeSecond(low + (high - low) / 2)
    if (wallTime(middle, timeZone).offsetMs === offset) low = middle
    else high = middle
  }
  return high
}

/**
 * The next instant after `now` when the local clock in `timeZone` reaches `time` (`'08:00'`):
 * for digests sent at a fixed time of day. As quiet hours do, it is the first instant the
 * clock shows the time or a later one: a time a daylight-saving jump skips is reached at the
 * jump (a digest at 02:30, clocks going from 02:00 to 03:00: sent at 03:00), and a time the
 * clock repeats after falling back is reached once, at its first showing, so a digest goes out
 * once that day. Refuses (`E_VALIDATION`) what {@link quietHoursEnd} does.
 *
 * @example
 * ```ts
 * import { nextTimeOfDay } from '@mortar/notify'
 *
 * nextTimeOfDay(new Date('2026-06-01T10:00:00Z'), 'America/New_York', '08:00') // 2026-06-01T12:00:00.000Z
 * ```
 */
export function nextTimeOfDay(now: Date, timeZone: string, time: string): Date {
  const at = checkedInstant(now, timeZone)
  const minutes = minutesOfDay(time)
  // The day of the latest local time the clock has shown (within a repeated hour, the one
  // before it fell back): today's time is ahead unless reached, and tomorrow's always is.
  const today = Math.floor(latestWallTime(at, timeZone) / DAY) * DAY
  const next = firstInstantAtOrAfter(today + minutes * MINUTE, timeZone)
  return new Date(
    next > at ? next : firstInstantAtOrAfter(today + DAY + minutes * MINUTE, timeZone),
  )
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
