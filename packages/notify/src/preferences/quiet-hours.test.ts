import { ValidationError, wallTime } from '@mortar/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  minutesOfDay,
  nextTimeOfDay,
  quietHoursEnd,
  storedQuietHours,
  storedQuietHoursEnd,
} from './quiet-hours.js'
import {
  DAY,
  firstAtOrAfter,
  hhmm,
  offsetChanges,
  spans,
  wallMinutes,
} from '../test-support/zone-reference.js'

const night = { start: '22:00', end: '07:00' }

describe('quietHoursEnd', () => {
  it("delays to the window's end in the recipient's time zone", () => {
    // 23:30 in Paris (UTC+2 in June) → 07:00 Paris the next morning.
    expect(quietHoursEnd(new Date('2026-06-01T21:30:00Z'), 'Europe/Paris', night)).toEqual(
      new Date('2026-06-02T05:00:00Z'),
    )
    // 03:00 in New York (UTC-4) → 07:00 the same morning.
    expect(quietHoursEnd(new Date('2026-06-01T07:00:00Z'), 'America/New_York', night)).toEqual(
      new Date('2026-06-01T11:00:00Z'),
    )
  })

  it('does not delay outside the window, nor when start equals end', () => {
    expect(quietHoursEnd(new Date('2026-06-01T12:00:00Z'), 'Europe/Paris', night)).toBeUndefined()
    expect(
      quietHoursEnd(new Date('2026-06-01T12:00:00Z'), 'UTC', { start: '09:00', end: '09:00' }),
    ).toBeUndefined()
  })

  it('handles a window within one day', () => {
    expect(
      quietHoursEnd(new Date('2026-06-01T13:30:00Z'), 'UTC', { start: '13:00', end: '14:00' }),
    ).toEqual(new Date('2026-06-01T14:00:00Z'))
  })

  it('lands on the real local end across a daylight-saving change', () => {
    // Night of 28–29 March 2026 in Paris: clocks go from 02:00 to 03:00. 07:00 local is 05:00Z.
    expect(quietHoursEnd(new Date('2026-03-28T23:30:00Z'), 'Europe/Paris', night)).toEqual(
      new Date('2026-03-29T05:00:00Z'),
    )
    // An end inside the skipped hour is the jump: 02:00 CET becomes 03:00 CEST (01:00Z).
    expect(
      quietHoursEnd(new Date('2026-03-28T23:30:00Z'), 'Europe/Paris', {
        start: '22:00',
        end: '02:30',
      }),
    ).toEqual(new Date('2026-03-29T01:00:00Z'))
  })

  it('does not hold a day longer when an end in the skipped hour would, moved by the jump, fall in the next window', () => {
    // Quiet 03:15-02:30 in Paris: on 29 March 2026 the clock reaches 02:30 at the jump (03:00
    // CEST), outside the next window (03:15). Before, the end was moved by the jump to 03:30,
    // inside the next window, and the delivery waited until 02:30 on 30 March.
    expect(
      quietHoursEnd(new Date('2026-03-28T12:00:00Z'), 'Europe/Paris', {
        start: '03:15',
        end: '02:30',
      }),
    ).toEqual(new Date('2026-03-29T01:00:00Z'))
  })

  it('neither repeats nor shortens a window in an hour the clock repeats', () => {
    // New York falls back at 02:00 EDT (06:00Z) to 01:00 EST. Quiet 22:00-01:30 ended at the
    // first 01:30 (05:30Z): at 01:10 EST (06:10Z) it is over, not held again to the second.
    const now = new Date('2026-11-01T06:10:00Z')
    expect(quietHoursEnd(now, 'America/New_York', { start: '22:00', end: '01:30' })).toBeUndefined()
    expect(
      quietHoursEnd(new Date('2026-11-01T05:10:00Z'), 'America/New_York', {
        start: '22:00',
        end: '01:30',
      }),
    ).toEqual(new Date('2026-11-01T05:30:00Z'))
    // Quiet 01:15-06:00 started at the first 01:15 (05:15Z): at 01:05 EST it goes on, to 06:00
    // EST (11:00Z). Before, 01:05 read as before the window: sent at once.
    expect(
      quietHoursEnd(new Date('2026-11-01T06:05:00Z'), 'America/New_York', {
        start: '01:15',
        end: '06:00',
      }),
    ).toEqual(new Date('2026-11-01T11:00:00Z'))
  })

  it('never ends inside the window: an end a daylight-saving jump skips, moved into the next window, goes on to that one', () => {
    // New York springs forward on 8 March 2026 (02:00 EST → 03:00 EDT): quiet from 03:00 to
    // 02:45, the end that night is skipped; moved by the jump it is 03:45 EDT, inside the window
    // again. Before, the delivery went out then, quiet hours or not; now at the next 02:45.
    const ny = { start: '03:00', end: '02:45' }
    expect(quietHoursEnd(new Date('2026-03-07T13:01:00Z'), 'America/New_York', ny)).toEqual(
      new Date('2026-03-09T06:45:00Z'),
    )
    // Lord Howe Island springs forward by 30 minutes (02:00 → 02:30) on 4 October 2026.
    const lordHowe = { start: '02:15', end: '02:10' }
    const end = quietHoursEnd(new Date('2026-10-03T12:00:00Z'), 'Australia/Lord_Howe', lordHowe)
    expect(end).toEqual(new Date('2026-10-04T15:10:00Z'))
    expect(quietHoursEnd(end as Date, 'Australia/Lord_Howe', lordHowe)).toBeUndefined()
    // Troll (Antarctica) jumps two hours, 01:00 → 03:00, on 29 March 2026.
    const troll = { start: '02:45', end: '01:00' }
    expect(quietHoursEnd(new Date('2026-03-28T08:48:00Z'), 'Antarctica/Troll', troll)).toEqual(
      new Date('2026-03-29T23:00:00Z'),
    )
  })

  it('for every zone, around its changes: held only inside a window, until the first instant the clock reaches its end', () => {
    // Against a reference by brute force over the zone's offsets (sampled hourly, bisected to
    // the second): each day's window runs from the first instant the clock shows its start or
    // later to the first it shows its end or later; a release inside the next window goes on.
    // Dates near each zone's changes, windows near the local times around them.
    const zones = Intl.supportedValuesOf('timeZone')
    const anyTime = fc.integer({ min: 0, max: 1439 }).map((at) => ({ at }))
    const nearChange = fc.integer({ min: -90, max: 90 }).map((by) => ({ by }))
    const time = fc.oneof({ arbitrary: anyTime, weight: 1 }, { arbitrary: nearChange, weight: 3 })
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: 1970, max: 2037 }),
        fc.nat(),
        fc.integer({ min: -30 * 3_600, max: 30 * 3_600 }),
        time,
        time,
        (zone, year, pick, seconds, startPick, endPick) => {
          const changes = offsetChanges(zone, year)
          const change = changes[pick % Math.max(changes.length, 1)] ?? Date.UTC(year, 5, 1)
          const now = change + seconds * 1_000
          const wallBefore = wallMinutes(change - 1_000, zone)
          const wallAfter = wallMinutes(change, zone)
          const start = 'at' in startPick ? startPick.at : wallBefore + startPick.by
          const end = 'at' in endPick ? endPick.at : wallAfter + endPick.by
          const window = { start: hhmm(start), end: hhmm(end) }
          expect(
            quietHoursEnd(new Date(now), zone, window)?.getTime(),
            `${zone} at ${new Date(now).toISOString()}, quiet ${window.start}-${window.end}`,
          ).toBe(referenceEnd(now, zone, minutesOfDay(window.start), minutesOfDay(window.end)))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('refuses a malformed time', () => {
    expect(() => quietHoursEnd(new Date(), 'UTC', { start: '25:00', end: '07:00' })).toThrow(
      /HH:MM/,
    )
  })
})

describe('nextTimeOfDay', () => {
  it('is today when the time is still ahead, else tomorrow, in the zone', () => {
    // 10:00Z is 06:00 in New York (UTC-4 in June).
    expect(nextTimeOfDay(new Date('2026-06-01T10:00:00Z'), 'America/New_York', '08:00')).toEqual(
      new Date('2026-06-01T12:00:00Z'),
    )
    expect(nextTimeOfDay(new Date('2026-06-01T10:00:00Z'), 'America/New_York', '05:00')).toEqual(
      new Date('2026-06-02T09:00:00Z'),
    )
  })

  it('is the end of the gap for a time a spring-forward jump skips, not later by the jump', () => {
    // Paris, 29 March 2026: 02:00 CET becomes 03:00 CEST (01:00Z). A digest at 02:30 goes at
    // the jump, 03:00 CEST, when the clock first shows 02:30 or later. Before: 03:30 CEST.
    expect(nextTimeOfDay(new Date('2026-03-28T12:00:00Z'), 'Europe/Paris', '02:30')).toEqual(
      new Date('2026-03-29T01:00:00Z'),
    )
    // Troll jumps two hours (01:00 → 03:00 UTC+2, 01:00Z): 02:59 goes at 03:00, not 04:59.
    expect(nextTimeOfDay(new Date('2026-03-28T12:00:00Z'), 'Antarctica/Troll', '02:59')).toEqual(
      new Date('2026-03-29T01:00:00Z'),
    )
  })

  it('is once a day for a time a fall back repeats: at its first occurrence, never the second', () => {
    // New York falls back at 02:00 EDT (06:00Z) to 01:00 EST on 1 November 2026: 01:30 is
    // shown at 05:30Z and again at 06:30Z. Once the first went by, the next is tomorrow's.
    const zone = 'America/New_York'
    const first = nextTimeOfDay(new Date('2026-11-01T04:00:00Z'), zone, '01:30')
    expect(first).toEqual(new Date('2026-11-01T05:30:00Z'))
    const tomorrow = new Date('2026-11-02T06:30:00Z')
    // Asked again from the send itself, and from inside the repeated hour (01:10 EST, 06:10Z):
    // before, both gave the second 01:30 (06:30Z), a second digest that night.
    expect(nextTimeOfDay(first, zone, '01:30')).toEqual(tomorrow)
    expect(nextTimeOfDay(new Date('2026-11-01T06:10:00Z'), zone, '01:30')).toEqual(tomorrow)
  })

  it('for every zone, around its changes: the first instant after now the clock reaches the time, once a day', () => {
    // Against a reference by brute force over the zone's offsets: each day's time is reached at
    // the first instant the clock shows it or later (the gap's end when a jump skips it, the
    // first showing when a fall back repeats it); the answer is the earliest of those after now.
    const zones = Intl.supportedValuesOf('timeZone')
    const anyTime = fc.integer({ min: 0, max: 1439 }).map((at) => ({ at }))
    const nearChange = fc.integer({ min: -90, max: 90 }).map((by) => ({ by }))
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: 1970, max: 2037 }),
        fc.nat(),
        fc.integer({ min: -30 * 3_600, max: 30 * 3_600 }),
        fc.oneof({ arbitrary: anyTime, weight: 1 }, { arbitrary: nearChange, weight: 3 }),
        fc.boolean(),
        (zone, year, pick, seconds, timePick, before) => {
          const changes = offsetChanges(zone, year)
          const change = changes[pick % Math.max(changes.length, 1)] ?? Date.UTC(year, 5, 1)
          const now = change + seconds * 1_000
          const near = wallMinutes(before ? change - 1_000 : change, zone)
          const time = hhmm('at' in timePick ? timePick.at : near + timePick.by)
          const next = nextTimeOfDay(new Date(now), zone, time).getTime()
          const label = `${zone} at ${new Date(now).toISOString()}, daily at ${time}`
          expect(next, label).toBe(referenceNext(now, zone, minutesOfDay(time)))
          // And from that send, the next is another day's: never the same time twice a night.
          expect(nextTimeOfDay(new Date(next), zone, time).getTime(), label).toBe(
            referenceNext(next, zone, minutesOfDay(time)),
          )
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('storedQuietHoursEnd', () => {
  it('reads back the window and zone storedQuietHours wrote, for every zone (hyphens in names too)', () => {
    // Split on every '-': America/Port-au-Prince read as America/Port, a RangeError at each send.
    const window = { start: '22:00', end: '07:00' }
    const now = Date.parse('2026-06-01T03:30:00Z')
    for (const zone of Intl.supportedValuesOf('timeZone')) {
      expect(storedQuietHoursEnd(storedQuietHours(window, zone), now), zone).toEqual({
        until: quietHoursEnd(new Date(now), zone, window)?.getTime(),
      })
    }
  })

  it('reads a window in a zone this runtime does not know in UTC, and names the zone (it threw at every send)', () => {
    const now = Date.parse('2026-06-01T03:30:00Z')
    expect(storedQuietHoursEnd('22:00-07:00 Mars/Olympus_Mons', now)).toEqual({
      until: Date.parse('2026-06-01T07:00:00Z'),
      unknownZone: 'Mars/Olympus_Mons',
    })
  })
})

describe('quietHoursEnd and nextTimeOfDay', () => {
  /** The path of the E_VALIDATION `run` throws; fails on any other outcome. */
  function refused(run: () => unknown): string | undefined {
    try {
      run()
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError)
      return (error as ValidationError).issues[0]?.path
    }
    throw new Error('not refused')
  }

  it('refuse an invalid date, an unknown zone and a time not as HH:MM with E_VALIDATION naming it, never a RangeError', () => {
    // Before, an unknown zone and an invalid date threw the runtime's RangeError, a bad time a
    // TypeError, and nextTimeOfDay on an invalid date a plain Error.
    const at = new Date('2026-06-01T21:30:00Z')
    const invalidDate = new Date(Number.NaN)
    expect(refused(() => quietHoursEnd(invalidDate, 'Europe/Paris', night))).toBe('now')
    expect(refused(() => nextTimeOfDay(invalidDate, 'Europe/Paris', '08:00'))).toBe('now')
    expect(refused(() => quietHoursEnd(at, 'Mars/Olympus', night))).toBe('timeZone')
    expect(refused(() => nextTimeOfDay(at, 'Mars/Olympus', '08:00'))).toBe('timeZone')
    expect(refused(() => quietHoursEnd(at, 'UTC', { start: '24:00', end: '07:00' }))).toBe(
      'window.start',
    )
    expect(refused(() => quietHoursEnd(at, 'UTC', { start: '22:00', end: '7:00' }))).toBe(
      'window.end',
    )
    expect(refused(() => nextTimeOfDay(at, 'UTC', '8h'))).toBe('time')
  })

  it('refuse every string that is not a known zone, for any instant', () => {
    const zones = new Set(Intl.supportedValuesOf('timeZone').map((zone) => zone.toLowerCase()))
    fc.assert(
      fc.property(
        fc.string().filter((zone) => !zones.has(zone.toLowerCase()) && !isKnown(zone)),
        fc.date({ noInvalidDate: true }),
        (zone, now) => {
          expect(refused(() => quietHoursEnd(now, zone, night))).toBe('timeZone')
          expect(refused(() => nextTimeOfDay(now, zone, '08:00'))).toBe('timeZone')
        },
      ),
    )
  })
})

function isKnown(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/** The reference release (see the property test), by brute force over nearby days. */
function referenceEnd(now: number, zone: string, start: number, end: number): number | undefined {
  if (start === end) return undefined
  const over = spans(zone, now - 3 * DAY, now + 4 * DAY)
  const wall = wallTime(now, zone)
  const today = Date.UTC(wall.year, wall.month - 1, wall.day)
  let until: number | undefined
  for (;;) {
    const at = until ?? now
    let found: number | undefined
    for (let day = today - 2 * DAY; day <= today + 2 * DAY; day += DAY) {
      const from = firstAtOrAfter(day + start * 60_000, over)
      const to = firstAtOrAfter(day + (start < end ? 0 : DAY) + end * 60_000, over)
      if (from <= at && at < to) found = to
    }
    if (found === undefined) return until
    until = found
  }
}

/** The reference next time of day (see the property test), by brute force over nearby days. */
function referenceNext(now: number, zone: string, minutes: number): number {
  const over = spans(zone, now - 3 * DAY, now + 5 * DAY)
  const wall = wallTime(now, zone)
  const today = Date.UTC(wall.year, wall.month - 1, wall.day)
  let next = Number.POSITIVE_INFINITY
  for (let day = today - 2 * DAY; day <= today + 3 * DAY; day += DAY) {
    const reached = firstAtOrAfter(day + minutes * 60_000, over)
    if (reached > now) next = Math.min(next, reached)
  }
  return next
}
