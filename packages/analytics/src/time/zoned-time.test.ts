import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
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
