// How node-postgres reads a PostgreSQL `date` or `timestamp` (a clock face, no zone): postgres-date
// builds `new Date(year, month, day, hours, …)` in this process's time zone. That reading is not
// monotonic where the zone changes its offset: a face in a spring-forward gap (02:30 in Paris)
// reads as the instant an hour after it (01:30Z, as 03:30 does), a face in a fall-back overlap
// reads as the earlier of its two instants (PostgreSQL's `at time zone` takes the later), and a
// face past 275760-09-13 reads as an invalid Date. So a bound on the instant is turned here into
// the faces that read before it, a union of ranges, which SQL compares the bare column with.

const MINUTE = 60_000
const DAY = 86_400_000
/** The last instant a Date holds: a face read after it is an invalid Date. */
export const LAST_DATE = 8.64e15
// 400 Gregorian years, after which the calendar repeats: faces past a Date's range are written
// and read through the same face 400,000 years earlier.
const CYCLE = 146_097 * DAY
const CYCLES = 1000
// Offsets change by less than a day, so a face more than two days from a bound's own face reads
// on the same side of it as that face.
const REACH = 2 * DAY
// Offsets stay put for more than an hour between two changes.
const STEP = 60 * MINUTE

/** A clock face, as the UTC milliseconds that show it. */
export type Face = number

/** A range of faces `[from, to)`; `-Infinity`/`Infinity` reach past every face. */
export type FaceRange = readonly [from: Face, to: Face]

interface Fields {
  readonly year: number
  readonly month: number
  readonly day: number
  readonly hours: number
  readonly minutes: number
  readonly seconds: number
  readonly ms: number
}

function fields(face: Face): Fields {
  const cycles = face > LAST_DATE - REACH ? CYCLES : 0
  const shown = new Date(face - cycles * CYCLE)
  return {
    year: shown.getUTCFullYear() + cycles * 400,
    month: shown.getUTCMonth(),
    day: shown.getUTCDate(),
    hours: shown.getUTCHours(),
    minutes: shown.getUTCMinutes(),
    seconds: shown.getUTCSeconds(),
    ms: shown.getUTCMilliseconds(),
  }
}

/** The instant node-postgres reads a face as (postgres-date 1.0), NaN past a Date's range. */
export function readFace(face: Face): number {
  const f = fields(face)
  const date = new Date(f.year, f.month, f.day, f.hours, f.minutes, f.seconds, f.ms)
  // As postgres-date does: the constructor takes the years 0 to 99 for 1900 to 1999.
  if (f.year >= 0 && f.year < 100) date.setFullYear(f.year)
  return date.getTime()
}

/** The face an instant shows in this process's time zone. */
export function faceOf(at: number): Face {
  return at - new Date(at).getTimezoneOffset() * MINUTE
}

/** A face as PostgreSQL reads a timestamp: `2026-01-31 09:05:00.250`, `0044-03-15 00:00:00.000 BC`. */
export function faceText(face: Face): string {
  const f = fields(face)
  const pad = (value: number, width = 2) => String(value).padStart(width, '0')
  const text = `${pad(f.year > 0 ? f.year : 1 - f.year, 4)}-${pad(f.month + 1)}-${pad(f.day)} ${pad(f.hours)}:${pad(f.minutes)}:${pad(f.seconds)}.${pad(f.ms, 3)}`
  return f.year > 0 ? text : `${text} BC`
}

/** The last face node-postgres reads as a valid Date. */
export function lastFace(): Face {
  return faceOf(LAST_DATE)
}

/** `face - instant` as read, constant between two changes of the zone's offset. */
const shift = (face: Face) => face - readFace(face)

/** The first face after `from` (up to `to`) whose shift is not `from`'s. */
function change(from: Face, to: Face): Face {
  const before = shift(from)
  let low = from
  let high = to
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2)
    if (Object.is(shift(middle), before)) low = middle
    else high = middle
  }
  return high
}

/**
 * The faces node-postgres reads as an instant before `bound` (a valid Date's time, or one
 * millisecond past the last), as ascending disjoint ranges; faces read as invalid Dates are in
 * none.
 */
export function facesBefore(bound: number): FaceRange[] {
  if (bound > LAST_DATE) return [[Number.NEGATIVE_INFINITY, lastFace() + 1]]
  const center = Math.floor(faceOf(bound))
  const start = center - REACH
  const end = center + REACH
  const ranges: [Face, Face][] = [[Number.NEGATIVE_INFINITY, start]]
  const add = (from: Face, to: Face) => {
    if (from >= to) return
    const last = ranges[ranges.length - 1]
    if (last !== undefined && last[1] === from) last[1] = to
    else ranges.push([from, to])
  }
  let from = start
  while (from < end) {
    const next = Math.min(from + STEP, end)
    const to = Object.is(shift(from), shift(next)) ? next : change(from, next)
    const offset = shift(from)
    // Each face of [from, to) reads as face - offset: before bound up to bound + offset.
    if (!Number.isNaN(offset)) add(from, Math.min(to, bound + offset))
    from = to
  }
  return ranges
}
