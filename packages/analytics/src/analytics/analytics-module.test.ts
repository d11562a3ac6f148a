import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { AnalyticsConfigError } from '../errors.js'
import { analyticsModule } from './analytics-module.js'

const events = defineEvents({ viewed: z.object({}) })

// Every option of the module that becomes a timer, built with one value.
const settings: Record<string, (ms: number) => unknown> = {
  flushOnStopMs: (flushOnStopMs) => analyticsModule({ events, flushOnStopMs }),
  'buffer.maxAgeMs': (maxAgeMs) => analyticsModule({ events, buffer: { maxAgeMs } }),
  'buffer.retryBaseMs': (retryBaseMs) => analyticsModule({ events, buffer: { retryBaseMs } }),
  'buffer.retryMaxMs': (retryMaxMs) => analyticsModule({ events, buffer: { retryMaxMs } }),
}

describe('analyticsModule options that become timers', () => {
  for (const [name, build] of Object.entries(settings)) {
    it(`${name}: refuses NaN, a negative, infinity or past 2^31 − 1 ms (a timer fires at once)`, () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.double({ max: -0.001 }),
            fc.double({ min: 2 ** 31, noNaN: true }),
            fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY),
          ),
          (ms) => {
            expect(() => build(ms)).toThrow(AnalyticsConfigError)
          },
        ),
      )
      expect(() => build(2 ** 31 - 1)).not.toThrow()
    })
  }
})

describe('analyticsModule retentionDays', () => {
  it('refuses anything but a whole number of days from 1 to a century', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 36_526 }),
          fc.double({ min: 36_525.001, noNaN: true }),
          fc.double({ max: 0.999 }),
          fc.double({ min: 1.001, max: 36_524.999 }).filter((days) => !Number.isInteger(days)),
          fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, Number.MAX_VALUE),
        ),
        (retentionDays) => {
          expect(() => analyticsModule({ events, retentionDays })).toThrow(AnalyticsConfigError)
        },
      ),
    )
    for (const retentionDays of [1, 395, 36_525]) {
      expect(() => analyticsModule({ events, retentionDays })).not.toThrow()
    }
  })
})

describe('analyticsModule counts and recommendations', () => {
  const catalogue = defineEvents({
    searched: z.object({ query: z.string() }),
    bought: z.object({ items: z.array(z.string()) }),
  })
  const build = (options: { counts?: unknown; recommendations?: unknown }) => () =>
    analyticsModule({ events: catalogue, ...(options as object) })

  it('refuses a key the rollups cannot keep: empty (the daily total row), no text, a counted one past 64 characters', () => {
    const noKey = fc.oneof(
      fc.constantFrom('', 'a\u0000b', '\ud800'),
      fc.anything().filter((value) => typeof value !== 'string'),
    )
    fc.assert(
      fc.property(
        fc.oneof(noKey, fc.constant('🍵'.repeat(65)), fc.string({ minLength: 65, maxLength: 200 })),
        (key) => {
          expect(build({ counts: { searched: [key] } })).toThrow(AnalyticsConfigError)
        },
      ),
    )
    fc.assert(
      fc.property(noKey, (key) => {
        expect(build({ recommendations: { bought: { event: 'bought', items: key } } })).toThrow(
          AnalyticsConfigError,
        )
      }),
    )
    for (const key of ['query', 'k'.repeat(64), '🍵'.repeat(64), 'a"b', '__proto__']) {
      expect(build({ counts: { searched: [key] } })).not.toThrow()
    }
  })

  it('refuses an event not in the catalogue, and a source with both or neither of item and items', () => {
    for (const name of ['viewed', 'toString', '__proto__', 'constructor']) {
      expect(build({ counts: JSON.parse(`{"${name}": ["query"]}`) })).toThrow(AnalyticsConfigError)
      expect(build({ recommendations: { viewed: { event: name, item: 'query' } } })).toThrow(
        AnalyticsConfigError,
      )
    }
    expect(build({ counts: { searched: 'query' } })).toThrow(AnalyticsConfigError)
    expect(build({ recommendations: { bought: { event: 'bought' } } })).toThrow(
      AnalyticsConfigError,
    )
    expect(
      build({ recommendations: { bought: { event: 'bought', item: 'x', items: 'items' } } }),
    ).toThrow(AnalyticsConfigError)
    expect(build({ counts: { $page: ['path'] } })).not.toThrow()
  })
})
