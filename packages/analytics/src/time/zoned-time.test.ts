import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { offsetChanges } from '../rollups/rollup-sql.js'
import { localDay, nextStart, periodBounds, startOf, zoneOffset } from './zoned-time.js'

describe('zoned time', () => {
  it('refuses a range of more than 10,000 periods (a range of any two Dates hung the process)', () => {
    const hour = 3_600_000
    expect(periodBounds('hour', 0, 10_000 * hour, 'UTC')).toHaveLength(10_001)
    for (const [interval, unit] of [
      ['hour', hour],
      ['day', 24 * hour],
      ['week', 7 * 24 * hour],
    ] as const) {
      expect(() => periodBounds(interval, 0, 10_001 * unit, 'UTC')).toThrow(
        expect.objectContaining({ code: 'E_ANALYTICS_QUERY', status: 422 }),
      )
    }
    expect(() => periodBounds('hour', -8.64e15, 8.64e15, 'Europe/Paris')).toThrow(
      expect.objectContaining({ code: 'E_ANALYTICS_QUERY' }),
    )
  })

  it('finds local midnights across a DST change (Europe/Paris, 29 March 2026 has 23 hours)', () => {
    const bounds = periodBounds(
      'day',
      Date.parse('2026-03-28T12:00:00Z'),
      Date.parse('2026-03-30T12:00:00Z'),
      'Europe/Paris',
    )
    expect(bounds.map((ms) => new Date(ms).toISOString())).toEqual([
      '2026-03-27T23:00:00.000Z',
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T22:00:00.000Z',
      '2026-03-30T22:00:00.000Z',
    ])
  })

  it('counts both occurrences of a repeated hour, each in an hour of its own (New York, Paris)', () => {
    // Autumn: 01:00-02:00 happens twice in New York, 02:00-03:00 in Paris. The first occurrence
    // fell out of every bucket (Paris) or the bounds never moved past it (New York: refused as
    // more than 10,000 hours).
    const iso = (bounds: number[]) => bounds.map((ms) => new Date(ms).toISOString().slice(11, 16))
    const newYork = periodBounds(
      'hour',
      Date.parse('2026-11-01T04:00:00Z'),
      Date.parse('2026-11-01T07:00:00Z'),
      'America/New_York',
    )
    expect(iso(newYork)).toEqual(['04:00', '05:00', '06:00', '07:00'])
    const paris = periodBounds(
      'hour',
      Date.parse('2026-10-25T00:00:00Z'),
      Date.parse('2026-10-25T02:00:00Z'),
      'Europe/Paris',
    )
    expect(iso(paris)).toEqual(['00:00', '01:00', '02:00'])
  })

  it('bounds every period around every offset change: no instant outside, none twice', () => {
    const zones = [
      'America/New_York',
      'Europe/Paris',
      'Australia/Sydney',
      'Australia/Lord_Howe',
      'America/Santiago',
      'America/Havana',
      'Pacific/Chatham',
    ]
    const changes = zones.flatMap((zone) =>
      offsetChanges(zone, Date.parse('2025-01-01'), Date.parse('2027-12-31')).changes.map(
        (at) => [zone, at] as const,
      ),
    )
    fc.assert(
      fc.property(
        fc.constantFrom(...changes),
        fc.integer({ min: -3 * 3_600_000, max: 3 * 3_600_000 }),
        fc.constantFrom('hour' as const, 'day' as const, 'week' as const),
        ([zone, change], delta, interval) => {
          const ms = change + delta
          const start = startOf(interval, ms, zone)
          const next = nextStart(interval, start, zone)
          expect(start).toBeLessThanOrEqual(ms)
          expect(next).toBeGreaterThan(ms)
          // The period is the local hour (or day) of the instant: what its start shows.
          const wall = (at: number) => new Date(at + zoneOffset(at, zone)).toISOString()
          if (interval !== 'week') {
            const unit = interval === 'hour' ? 13 : 10
            expect(wall(start).slice(0, unit)).toBe(wall(ms).slice(0, unit))
          }
          const bounds = periodBounds(interval, ms - 4 * 3_600_000, ms + 4 * 3_600_000, zone)
          for (let i = 1; i < bounds.length; i++) {
            expect(bounds[i]).toBeGreaterThan(bounds[i - 1] as number)
          }
        },
      ),
      { numRuns: 1_000 },
    )
  })

  it('starts weeks on Monday', () => {
    // 2026-03-04 is a Wednesday.
    expect(new Date(startOf('week', Date.parse('2026-03-04T15:00:00Z'), 'UTC')).toISOString()).toBe(
      '2026-03-02T00:00:00.000Z',
    )
  })

  it('handles zones off the hour (Asia/Kathmandu is UTC+5:45)', () => {
    expect(zoneOffset(Date.parse('2026-01-01T00:00:00Z'), 'Asia/Kathmandu')).toBe(
      (5 * 60 + 45) * 60_000,
    )
    expect(
      new Date(startOf('day', Date.parse('2026-01-01T20:00:00Z'), 'Asia/Kathmandu')).toISOString(),
    ).toBe('2026-01-01T18:15:00.000Z')
  })

  it('puts every instant in the local period that starts at or before it and ends after it', () => {
    const zones = [
      'UTC',
      'Europe/Paris',
      'America/New_York',
      'Australia/Lord_Howe',
      'Asia/Kathmandu',
    ]
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2025-01-01'), max: Date.parse('2027-12-31') }),
        fc.constantFrom(...zones),
        fc.constantFrom('hour' as const, 'day' as const, 'week' as const),
        (ms, zone, interval) => {
          const start = startOf(interval, ms, zone)
          const next = nextStart(interval, start, zone)
          expect(start).toBeLessThanOrEqual(ms)
          expect(next).toBeGreaterThan(ms)
          if (interval === 'day') expect(localDay(start, zone)).toBe(localDay(ms, zone))
        },
      ),
      { numRuns: 500 },
    )
  })
})
