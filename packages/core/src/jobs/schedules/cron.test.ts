import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Cron } from './cron.js'

const iso = (ms: number) => new Date(ms).toISOString()

function series(cron: Cron, from: string, count: number): string[] {
  const out: string[] = []
  let t = Date.parse(from)
  for (let i = 0; i < count; i++) {
    t = cron.next(t)
    out.push(iso(t))
  }
  return out
}

describe('Cron', () => {
  it('reads steps, ranges, lists, names and 7 as Sunday', () => {
    expect(series(new Cron('*/15 9-17 * * mon-fri'), '2026-01-02T16:50:00Z', 3)).toEqual([
      '2026-01-02T17:00:00.000Z',
      '2026-01-02T17:15:00.000Z',
      '2026-01-02T17:30:00.000Z',
    ])
    // Friday 17:45 → Monday 09:00
    expect(series(new Cron('*/15 9-17 * * mon-fri'), '2026-01-02T17:45:00Z', 1)).toEqual([
      '2026-01-05T09:00:00.000Z',
    ])
    expect(series(new Cron('0 12 * * 7'), '2026-01-01T00:00:00Z', 1)).toEqual([
      '2026-01-04T12:00:00.000Z',
    ])
    expect(series(new Cron('5,35 0 1 jan,jul *'), '2026-01-01T00:10:00Z', 2)).toEqual([
      '2026-01-01T00:35:00.000Z',
      '2026-07-01T00:05:00.000Z',
    ])
    expect(series(new Cron('@daily'), '2026-01-01T00:00:00Z', 1)).toEqual([
      '2026-01-02T00:00:00.000Z',
    ])
  })

  it('matches either day field when both are restricted, as cron does', () => {
    // The 13th, or any Friday.
    expect(series(new Cron('0 0 13 * fri'), '2026-02-01T00:00:00Z', 3)).toEqual([
      '2026-02-06T00:00:00.000Z',
      '2026-02-13T00:00:00.000Z',
      '2026-02-20T00:00:00.000Z',
    ])
  })

  it('finds a 29th of February years ahead', () => {
    expect(series(new Cron('0 0 29 2 *'), '2026-01-01T00:00:00Z', 1)).toEqual([
      '2028-02-29T00:00:00.000Z',
    ])
  })

  it('fires a wall time a daylight-saving jump skips at the jump, and a repeated one once', () => {
    const paris = new Cron('30 2 * * *', 'Europe/Paris')
    // 29 March 2026: 02:00 → 03:00, there is no 02:30: that day's run is at 03:00, not lost.
    expect(series(paris, '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:00:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ])
    // Every skipped minute it names fires as one run at the jump; the hour after runs as usual.
    expect(
      series(new Cron('*/20 2,3 * * *', 'America/New_York'), '2026-03-08T05:00:00Z', 4),
    ).toEqual([
      '2026-03-08T07:00:00.000Z',
      '2026-03-08T07:20:00.000Z',
      '2026-03-08T07:40:00.000Z',
      '2026-03-09T06:00:00.000Z',
    ])
    // Skipped at midnight (Santiago, 6 September 2026: 00:00 → 01:00): the day's run at 01:00.
    expect(series(new Cron('15 0 * * *', 'America/Santiago'), '2026-09-05T12:00:00Z', 2)).toEqual([
      '2026-09-06T04:00:00.000Z',
      '2026-09-07T03:15:00.000Z',
    ])
    // 25 October 2026: 03:00 → 02:00, 02:30 happens twice; it fires at the first.
    expect(series(paris, '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ])
    // Every-hour expressions run through the repeated hour, as cron does.
    expect(series(new Cron('0 * * * *', 'Europe/Paris'), '2026-10-24T23:30:00Z', 3)).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
    ])
    expect(series(new Cron('0 3 * * *', 'America/New_York'), '2026-01-01T00:00:00Z', 1)).toEqual([
      '2026-01-01T08:00:00.000Z',
    ])
  })

  it('refuses an expression it cannot read, naming the field', () => {
    expect(() => new Cron('* * *')).toThrow(/5 fields/)
    expect(() => new Cron('60 * * * *')).toThrow(/minute field '60' has 60, outside 0-59/)
    expect(() => new Cron('* * * * funday')).toThrow(/day of week/)
    expect(() => new Cron('*/0 * * * *')).toThrow(/step/)
    expect(() => new Cron('5-1 * * * *')).toThrow(/backwards/)
    expect(() => new Cron('* * * * *', 'Mars/Olympus')).toThrow(RangeError)
  })

  it("refuses Object.prototype's names as a macro, a month, a day or a number (property)", () => {
    // They were looked up in object literals: 'constructor' as a day of week was accepted and
    // the schedule found no instant when the app started; '__proto__' as the expression was a
    // TypeError about trim.
    const names = Object.getOwnPropertyNames(Object.prototype)
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.integer({ min: 0, max: 4 }),
        fc.boolean(),
        (name, field, inRange) => {
          const fields = ['0', '0', '1', '1', '*']
          fields[field] = inRange ? `1-${name}` : name
          expect(() => new Cron(fields.join(' '))).toThrow(/field .* not a number/)
          expect(() => new Cron(name)).toThrow(/5 fields/)
        },
      ),
    )
  })

  it('refuses a day of month that no month it names has, and keeps one some month has', () => {
    expect(() => new Cron('0 0 30 2 *')).toThrow(/names no day/)
    expect(() => new Cron('0 0 31 apr,jun,sep,nov *')).toThrow(/names no day/)
    expect(new Cron('0 0 30,31 2,4 *').next(Date.parse('2026-01-01T00:00:00Z'))).toBe(
      Date.parse('2026-04-30T00:00:00Z'),
    )
    // Either day field matches when both are restricted: Fridays of February still occur.
    expect(() => new Cron('0 0 30 2 fri')).not.toThrow()
  })

  it('agrees with a minute-by-minute search in UTC (property)', () => {
    const field = (min: number, max: number) =>
      fc.oneof(
        fc.constant('*'),
        fc.integer({ min: 1, max: Math.min(12, max) }).map((step) => `*/${step}`),
        fc
          .uniqueArray(fc.integer({ min, max }), { minLength: 1, maxLength: 4 })
          .map((v) => v.join(',')),
        fc
          .tuple(fc.integer({ min, max }), fc.integer({ min, max }))
          .map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
      )
    const expression = fc
      .tuple(field(0, 59), field(0, 23), fc.oneof(fc.constant('*'), field(1, 28)), field(0, 6))
      .map(([minute, hour, day, weekday]) => `${minute} ${hour} ${day} * ${weekday}`)
    fc.assert(
      fc.property(
        expression,
        fc.integer({ min: 0, max: 10 * 365 * 86_400 }),
        (text, offsetSeconds) => {
          const cron = new Cron(text)
          const after = Date.UTC(2024, 0, 1) + offsetSeconds * 1_000
          const found = cron.next(after)
          // Nothing matches between `after` and `found`, and `found` matches.
          expect(found).toBeGreaterThan(after)
          for (let t = Math.floor(after / 60_000) * 60_000 + 60_000; t < found; t += 60_000) {
            expect(bruteMatch(text, t)).toBe(false)
          }
          expect(bruteMatch(text, found)).toBe(true)
        },
      ),
      { numRuns: 60 },
    )
  })
})

/** A direct reading of the five fields for one UTC minute, independent of the search. */
function bruteMatch(text: string, t: number): boolean {
  const [minute, hour, day, month, weekday] = text.split(' ') as [
    string,
    string,
    string,
    string,
    string,
  ]
  const d = new Date(t)
  const has = (f: string, v: number, min: number, max: number): boolean =>
    f.split(',').some((part) => {
      const [range, step] = part.split('/')
      const [a, b] =
        range === '*'
          ? [min, max]
          : range?.includes('-')
            ? range.split('-').map(Number)
            : [Number(range), step ? max : Number(range)]
      const s = step ? Number(step) : 1
      return v >= (a as number) && v <= (b as number) && (v - (a as number)) % s === 0
    })
  const dayOk = has(day, d.getUTCDate(), 1, 31)
  const weekdayOk = has(weekday, d.getUTCDay(), 0, 7)
  const days = day === '*' ? weekdayOk : weekday === '*' ? dayOk : dayOk || weekdayOk
  return (
    has(minute, d.getUTCMinutes(), 0, 59) &&
    has(hour, d.getUTCHours(), 0, 23) &&
    has(month, d.getUTCMonth() + 1, 1, 12) &&
    days
  )
}
