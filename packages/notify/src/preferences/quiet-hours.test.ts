import { ValidationError } from '@mortar/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  minutesOfDay,
  nextTimeOfDay,
  quietHoursEnd,
  storedQuietHours,
  storedQuietHoursEnd,
} from './quiet-hours.js'

const night = { start: '22:00', end: '07:00' }

function localMinutes(instant: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    hour: 'numeric',
    minute: 'numeric',
  }).formatToParts(instant)
  const value = (type: string) => Number(parts.find((part) => part.type === type)?.value)
  return value('hour') * 60 + value('minute')
}

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
    // An end inside the skipped hour moves later by the jump (02:30 → 03:30 = 01:30Z), as
    // Temporal's 'compatible' disambiguation does.
    expect(
      quietHoursEnd(new Date('2026-03-28T23:30:00Z'), 'Europe/Paris', {
        start: '22:00',
        end: '02:30',
      }),
    ).toEqual(new Date('2026-03-29T01:30:00Z'))
  })

  it('ends in the future inside an hour the clock repeats: at the second 01:30 once the first is past', () => {
    // New York falls back at 02:00 EDT (06:00Z) to 01:00 EST: 01:10 EST is 06:10Z, after the
    // first 01:30 (05:30Z). Before, that first one was the end: sent at once, 01:10 at night.
    const now = new Date('2026-11-01T06:10:00Z')
    expect(quietHoursEnd(now, 'America/New_York', { start: '22:00', end: '01:30' })).toEqual(
      new Date('2026-11-01T06:30:00Z'),
    )
    expect(nextTimeOfDay(now, 'America/New_York', '01:30')).toEqual(
      new Date('2026-11-01T06:30:00Z'),
    )
    // During the first pass the first 01:30 is the end.
    expect(
      quietHoursEnd(new Date('2026-11-01T05:10:00Z'), 'America/New_York', {
        start: '22:00',
        end: '01:30',
      }),
    ).toEqual(new Date('2026-11-01T05:30:00Z'))
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

  it('for any instant and zone: undefined outside, else a later instant at the local end, outside the window', () => {
    const zones = [
      'UTC',
      'Europe/Paris',
      'America/New_York',
      'Asia/Kolkata',
      'Australia/Lord_Howe',
      'Pacific/Chatham',
    ]
    const time = fc
      .tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
      .map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`)
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true }),
        fc.constantFrom(...zones),
        time,
        time,
        (now, zone, start, end) => {
          const result = quietHoursEnd(now, zone, { start, end })
          const local = localMinutes(now, zone)
          const [s, e] = [minutesOfDay(start), minutesOfDay(end)]
          const inside = s === e ? false : s < e ? local >= s && local < e : local >= s || local < e
          if (!inside) {
            expect(result).toBeUndefined()
            return
          }
          expect(result).toBeDefined()
          const at = result as Date
          expect(at.getTime()).toBeGreaterThan(now.getTime())
          // A day, or two when a daylight-saving jump moved the first end into the next window.
          expect(at.getTime() - now.getTime()).toBeLessThanOrEqual(49 * 3_600_000)
          expect(quietHoursEnd(at, zone, { start, end })).toBeUndefined()
          const reached = localMinutes(at, zone)
          // The local end, or just after it when a daylight-saving jump skipped it.
          expect((reached - e + 1440) % 1440).toBeLessThanOrEqual(60)
        },
      ),
      { numRuns: 400 },
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
