import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isTimeZone, wallTime, zoneFormatter } from './wall-time.js'

describe('wallTime', () => {
  it('reads an instant as the zone’s wall clock, with its offset and weekday', () => {
    // Monday 1 June 2026, 23:30:15 in Paris (UTC+2 in summer).
    expect(wallTime(Date.parse('2026-06-01T21:30:15.500Z'), 'Europe/Paris')).toEqual({
      year: 2026,
      month: 6,
      day: 1,
      hour: 23,
      minute: 30,
      second: 15,
      weekday: 1,
      offsetMs: 7_200_000,
    })
    expect(wallTime(Date.parse('2026-01-01T00:00:00Z'), 'Asia/Kathmandu').offsetMs).toBe(
      (5 * 60 + 45) * 60_000,
    )
    expect(wallTime(Date.parse('2026-01-04T03:00:00Z'), 'America/New_York')).toMatchObject({
      day: 3,
      hour: 22,
      weekday: 6,
      offsetMs: -5 * 3_600_000,
    })
  })

  it('refuses a zone the runtime does not know', () => {
    expect(() => wallTime(0, 'Mars/Olympus_Mons')).toThrow(RangeError)
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false)
    expect(isTimeZone('Europe/Paris')).toBe(true)
  })

  it('keeps one formatter per zone however its name is spelled: a zone may be user input', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('Europe/Paris', 'America/Argentina/Buenos_Aires', 'Asia/Kathmandu', 'UTC'),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        (zone, upper) => {
          const spelling = [...zone]
            .map((char, i) => (upper[i] ? char.toUpperCase() : char.toLowerCase()))
            .join('')
          expect(zoneFormatter(spelling)).toBe(zoneFormatter(zone))
        },
      ),
    )
  })
})
