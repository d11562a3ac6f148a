/** An instant as a wall clock in a time zone shows it. */
export interface WallTime {
  readonly year: number
  /** 1 to 12. */
  readonly month: number
  readonly day: number
  /** 0 to 23. */
  readonly hour: number
  readonly minute: number
  readonly second: number
  /** 0 (Sunday) to 6. */
  readonly weekday: number
  /** Wall time minus UTC at this instant, in ms. */
  readonly offsetMs: number
}

const WEEKDAYS: Readonly<Record<string, number>> = {
  Sun: 0,
  Mon: 1,
  Tue: 2,
  Wed: 3,
  Thu: 4,
  Fri: 5,
  Sat: 6,
}

const formatters = new Map<string, Intl.DateTimeFormat>()

/**
 * The formatter of a zone, one per zone: cached under the zone's own name only, since its
 * spellings are endless ('europe/PARIS') and a recipient's or a query's zone is user input.
 * Another spelling makes a formatter that is dropped after the call. Exported for its test.
 */
export function zoneFormatter(timeZone: string): Intl.DateTimeFormat {
  const cached = formatters.get(timeZone)
  if (cached !== undefined) return cached
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
    weekday: 'short',
  })
  const name = format.resolvedOptions().timeZone
  const canonical = formatters.get(name) ?? format
  formatters.set(name, canonical)
  return canonical
}

/**
 * Reads the instant `ms` as wall time in `timeZone` (an IANA name); throws a `RangeError` for
 * a zone the runtime does not know.
 *
 * @example
 * ```ts
 * import { wallTime } from '@mortar/core'
 *
 * wallTime(Date.parse('2026-06-01T21:30:00Z'), 'Europe/Paris') // { hour: 23, minute: 30, offsetMs: 7_200_000, ... }
 * ```
 */
export function wallTime(ms: number, timeZone: string): WallTime {
  const parts: Record<string, string> = {}
  for (const part of zoneFormatter(timeZone).formatToParts(ms)) parts[part.type] = part.value
  const year = Number(parts.year)
  const month = Number(parts.month)
  const day = Number(parts.day)
  const hour = Number(parts.hour)
  const minute = Number(parts.minute)
  const second = Number(parts.second)
  const wallMs = Date.UTC(year, month - 1, day, hour, minute, second)
  return {
    year,
    month,
    day,
    hour,
    minute,
    second,
    weekday: WEEKDAYS[parts.weekday ?? ''] ?? 0,
    offsetMs: wallMs - Math.floor(ms / 1_000) * 1_000,
  }
}

/** True when `timeZone` is an IANA zone this runtime knows (`'Europe/Paris'`, `'UTC'`). */
export function isTimeZone(timeZone: string): boolean {
  try {
    zoneFormatter(timeZone)
    return true
  } catch {
    return false
  }
}
