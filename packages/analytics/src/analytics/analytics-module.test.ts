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
