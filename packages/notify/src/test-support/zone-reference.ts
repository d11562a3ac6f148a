// Test helpers of this package's own tests (never imported by the package itself): a brute-force
// reading of a zone's clock, to check the time-of-day arithmetic of quiet hours and digests
// against, in every zone around its offset changes.
import { wallTime } from '@mortar/core'

const HOUR = 3_600_000
export const DAY = 86_400_000

/** `minutes` past midnight as `HH:MM` (any integer, read modulo a day). */
export function hhmm(minutes: number): string {
  const m = ((minutes % 1440) + 1440) % 1440
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`
}

/** The minutes past midnight the zone's clock shows at `instant`. */
export function wallMinutes(instant: number, zone: string): number {
  const wall = wallTime(instant, zone)
  return wall.hour * 60 + wall.minute
}

/** The first instant (to the second) in (low, high] whose offset is not `offset`. */
function bisect(zone: string, low: number, high: number, offset: number): number {
  while (high - low > 1_000) {
    const middle = low + Math.floor((high - low) / 2_000) * 1_000
    if (wallTime(middle, zone).offsetMs === offset) low = middle
    else high = middle
  }
  return high
}

const changesOf = new Map<string, number[]>()

/** The instants of `year` at which the zone's offset changes (sampled weekly: most of them). */
export function offsetChanges(zone: string, year: number): number[] {
  const key = `${zone} ${year}`
  const known = changesOf.get(key)
  if (known !== undefined) return known
  const found: number[] = []
  const week = 7 * DAY
  let offset = wallTime(Date.UTC(year, 0, 1), zone).offsetMs
  for (let at = Date.UTC(year, 0, 1) + week; at <= Date.UTC(year + 1, 0, 1); at += week) {
    const next = wallTime(at, zone).offsetMs
    if (next === offset) continue
    found.push(bisect(zone, at - week, at, offset))
    offset = next
  }
  changesOf.set(key, found)
  return found
}

/** A stretch of time over which the zone keeps one offset. */
export interface Span {
  readonly from: number
  readonly to: number
  readonly offset: number
}

/** The zone's offsets over [from, to), as spans of one offset each. */
export function spans(zone: string, from: number, to: number): Span[] {
  const found: Span[] = []
  let [start, offset] = [from, wallTime(from, zone).offsetMs]
  // Every two hours: no zone changes twice within that.
  for (let at = from + 2 * HOUR; at < to + 2 * HOUR; at += 2 * HOUR) {
    if (wallTime(at, zone).offsetMs === offset) continue
    const change = bisect(zone, at - 2 * HOUR, at, offset)
    found.push({ from: start, to: change, offset })
    ;[start, offset] = [change, wallTime(change, zone).offsetMs]
  }
  found.push({ from: start, to: Number.POSITIVE_INFINITY, offset })
  return found
}

/**
 * The first instant the clock reaches `wall` (ms read as UTC): the first whose wall time is
 * `wall` or later, over `spans`. A wall time a jump skips is reached at the jump.
 */
export function firstAtOrAfter(wall: number, over: readonly Span[]): number {
  let first = Number.POSITIVE_INFINITY
  for (const span of over) {
    const at = Math.max(span.from, wall - span.offset)
    if (at < span.to) first = Math.min(first, at)
  }
  return first
}
