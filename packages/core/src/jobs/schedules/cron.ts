import { isTimeZone, type WallTime, wallTime } from '../../clock/wall-time.js'

/**
 * A parsed cron expression: five fields (minute, hour, day of month, month, day of week), with
 * `*`, lists, ranges, steps, month and day names, 7 as Sunday, and the macros `@yearly`,
 * `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly`. When both day fields are
 * restricted, a day matches either (as in Vixie cron). Read in a time zone: a wall time that a
 * daylight-saving jump skips fires at the jump (once, however many skipped minutes it names), so
 * a daily run is never lost to it, and one the clock repeats fires once.
 */
export class Cron {
  readonly expression: string
  readonly timeZone: string
  readonly #minutes: ReadonlySet<number>
  readonly #hours: ReadonlySet<number>
  readonly #days: ReadonlySet<number>
  readonly #months: ReadonlySet<number>
  readonly #weekdays: ReadonlySet<number>
  readonly #anyDay: boolean
  readonly #anyWeekday: boolean
  readonly #everyHour: boolean
  readonly #clock: WallClock

  /** Throws a `TypeError` naming the field for an expression it cannot read. */
  constructor(expression: string, timeZone = 'UTC') {
    this.expression = expression
    this.timeZone = timeZone
    const fields = (MACROS.get(expression.trim().toLowerCase()) ?? expression).trim().split(/\s+/)
    if (fields.length !== 5) {
      throw new TypeError(
        `Cron '${expression}' needs 5 fields (minute hour day-of-month month day-of-week), or a macro such as @daily.`,
      )
    }
    const [minute, hour, day, month, weekday] = fields as [string, string, string, string, string]
    this.#minutes = parseField(expression, 'minute', minute, 0, 59)
    this.#hours = parseField(expression, 'hour', hour, 0, 23)
    this.#days = parseField(expression, 'day of month', day, 1, 31)
    this.#months = parseField(expression, 'month', month, 1, 12, MONTHS)
    const weekdays = parseField(expression, 'day of week', weekday, 0, 7, WEEKDAYS)
    this.#weekdays = new Set([...weekdays].map((d) => d % 7))
    this.#anyDay = day === '*' || day === '?'
    this.#anyWeekday = weekday === '*' || weekday === '?'
    this.#everyHour = this.#hours.size === 24
    // A day of month no chosen month has ('0 0 30 2 *') names no instant: refused here, with
    // the schedule's definition, not found by next() when the app starts or years later.
    if (!this.#anyDay && this.#anyWeekday) {
      const occurs = [...this.#months].some((m) =>
        [...this.#days].some((d) => d <= (MONTH_DAYS[m - 1] as number)),
      )
      if (!occurs) {
        throw new TypeError(
          `Cron '${expression}' names no day: no month it names has day ${[...this.#days].join(', ')}.`,
        )
      }
    }
    this.#clock = wallClock(timeZone)
  }

  /** The first instant strictly after `afterMs` that the expression names (whole minutes). */
  next(afterMs: number): number {
    let t = Math.floor(afterMs / 60_000) * 60_000 + 60_000
    // Four years of candidate days covers Feb 29; each step jumps a month, day, hour or minute.
    for (let step = 0; step < 100_000; step++) {
      const wall = this.#clock(t)
      if (this.#skippedMatch(t, wall)) return t
      if (!this.#months.has(wall.month)) {
        t = this.#instant(wall.year, wall.month + 1, 1, 0, 0, t)
      } else if (!this.#dayMatches(wall)) {
        t = this.#instant(wall.year, wall.month, wall.day + 1, 0, 0, t)
      } else if (!this.#hours.has(wall.hour)) {
        t = this.#instant(wall.year, wall.month, wall.day, wall.hour + 1, 0, t)
      } else if (!this.#minutes.has(wall.minute) || this.#repeats(t, wall)) {
        t += 60_000
      } else {
        return t
      }
    }
    throw new RangeError(`Cron '${this.expression}' names no instant in the next years.`)
  }

  /**
   * True when `t` is the second occurrence of its wall time, after a clock moved back. An
   * expression that runs every hour runs through the repeated hour too, as cron does.
   */
  #repeats(t: number, wall: WallTime): boolean {
    if (this.#everyHour) return false
    const before = this.#clock(t - 3 * 3_600_000).offsetMs
    if (before <= wall.offsetMs) return false
    const first = this.#clock(t - (before - wall.offsetMs))
    return first.day === wall.day && first.hour === wall.hour && first.minute === wall.minute
  }

  /**
   * True when `t` is the first instant after a jump forward that skipped a wall time the
   * expression names: that run happens at the jump rather than not at all.
   */
  #skippedMatch(t: number, wall: WallTime): boolean {
    const before = this.#clock(t - 60_000)
    const skipped = (wall.offsetMs - before.offsetMs) / 60_000
    if (skipped <= 0) return false
    // The wall minutes skipped follow `before`'s; read as UTC fields, as they exist nowhere.
    const first = Date.UTC(before.year, before.month - 1, before.day, before.hour, before.minute)
    for (let minute = 1; minute <= skipped; minute++) {
      const date = new Date(first + minute * 60_000)
      if (
        this.#months.has(date.getUTCMonth() + 1) &&
        this.#dayMatches({ day: date.getUTCDate(), weekday: date.getUTCDay() }) &&
        this.#hours.has(date.getUTCHours()) &&
        this.#minutes.has(date.getUTCMinutes())
      ) {
        return true
      }
    }
    return false
  }

  #dayMatches(wall: Pick<WallTime, 'day' | 'weekday'>): boolean {
    const day = this.#days.has(wall.day)
    const weekday = this.#weekdays.has(wall.weekday)
    if (this.#anyDay && this.#anyWeekday) return true
    if (this.#anyDay) return weekday
    if (this.#anyWeekday) return day
    return day || weekday
  }

  /**
   * The instant of a wall time in the zone (fields may overflow: month 13 is next January):
   * the first of the two when a daylight-saving change repeats it, the end of the gap when one
   * skips it. Never before `floor` + 1 minute, so the search always moves forward.
   */
  #instant(
    year: number,
    month: number,
    day: number,
    hour: number,
    minute: number,
    floor: number,
  ): number {
    const naive = Date.UTC(year, month - 1, day, hour, minute)
    const target = this.#clock(naive - this.#clock(naive).offsetMs)
    const candidates = [
      naive - this.#clock(naive - DAY).offsetMs,
      naive - this.#clock(naive + DAY).offsetMs,
    ]
    const exact = candidates.filter((instant) => {
      const wall = this.#clock(instant)
      return wall.hour === target.hour && wall.minute === target.minute && wall.day === target.day
    })
    const instant = exact.length > 0 ? Math.min(...exact) : Math.max(...candidates)
    return Math.max(instant, floor + 60_000)
  }
}

const DAY = 86_400_000

type WallClock = (ms: number) => WallTime

/** Reads instants as wall time in a zone; throws a `RangeError` for an unknown zone. */
function wallClock(timeZone: string): WallClock {
  if (!isTimeZone(timeZone)) throw new RangeError(`Invalid time zone specified: ${timeZone}`)
  return (ms) => wallTime(ms, timeZone)
}

// Maps, not object literals: a token such as 'constructor' or '__proto__' must find nothing,
// not what Object.prototype holds under that name.
const MACROS: ReadonlyMap<string, string> = new Map([
  ['@yearly', '0 0 1 1 *'],
  ['@annually', '0 0 1 1 *'],
  ['@monthly', '0 0 1 * *'],
  ['@weekly', '0 0 * * 0'],
  ['@daily', '0 0 * * *'],
  ['@midnight', '0 0 * * *'],
  ['@hourly', '0 * * * *'],
])

// Longest length of each month (February in a leap year).
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

const MONTHS: ReadonlyMap<string, number> = new Map(
  ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'].map(
    (name, index) => [name, index + 1],
  ),
)
const WEEKDAYS: ReadonlyMap<string, number> = new Map(
  ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'].map((name, index) => [name, index]),
)
const NO_NAMES: ReadonlyMap<string, number> = new Map()

function parseField(
  expression: string,
  field: string,
  text: string,
  min: number,
  max: number,
  names: ReadonlyMap<string, number> = NO_NAMES,
): Set<number> {
  const fail = (why: string): never => {
    throw new TypeError(`Cron '${expression}': the ${field} field '${text}' ${why}.`)
  }
  const value = (token: string): number => {
    const named = names.get(token.toLowerCase())
    if (named !== undefined) return named
    if (!/^\d+$/.test(token)) fail(`has '${token}', not a number`)
    const number = Number(token)
    if (number < min || number > max) fail(`has ${number}, outside ${min}-${max}`)
    return number
  }
  const values = new Set<number>()
  for (const part of text.split(',')) {
    const [range, stepText, extra] = part.split('/')
    if (range === undefined || range === '' || extra !== undefined) fail('is malformed')
    const step = stepText === undefined ? 1 : Number(stepText)
    if (!Number.isInteger(step) || step < 1) fail(`has step '${stepText}'`)
    let from: number
    let to: number
    if (range === '*' || range === '?') {
      from = min
      to = max
    } else if (range?.includes('-')) {
      const [a, b] = range.split('-') as [string, string]
      from = value(a)
      to = value(b)
      if (from > to) fail(`has the range ${range} backwards`)
    } else {
      from = value(range as string)
      to = stepText === undefined ? from : max
    }
    for (let v = from; v <= to; v += step) values.add(v)
  }
  return values
}
