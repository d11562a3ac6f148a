import { FakeClock, testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({ viewed: z.object({ productId: z.string() }) })

const HOUR = 3_600_000
const DAY = 24 * HOUR
// Days of 23 and 25 hours: Paris springs forward at 02:00 and falls back at 03:00; Havana skips
// the midnight of 8 March (00:00 is 01:00) and repeats the hour before it on 1 November.
const ZONES = [
  { timeZone: 'Europe/Paris', changes: [Date.UTC(2026, 2, 29, 1), Date.UTC(2026, 9, 25, 1)] },
  { timeZone: 'America/Havana', changes: [Date.UTC(2026, 2, 8, 5), Date.UTC(2026, 10, 1, 5)] },
] as const

/** The local date of `ms` in `timeZone`, by the runtime's own time zone data: the oracle. */
function localDate(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(ms)
}

for (const engine of testEngines()) {
  for (const { timeZone, changes } of ZONES) {
    // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
    describe.skipIf(engine.skip !== undefined)(
      `daily rollups over days of 23 and 25 hours in ${timeZone}, ${engine.title}`,
      () => {
        let subject: EngineApp<typeof events>
        beforeAll(async () => {
          subject = await startEngineApp(
            engine,
            { events, timeZone },
            { clock: new FakeClock('2027-01-01T00:00:00Z') },
          )
        })
        afterAll(() => subject?.close())

        it('counts each event in its local day, pending or rolled up, each day starting at its first instant', async () => {
          const { analytics } = subject
          let run = 0
          await fc.assert(
            fc.asyncProperty(
              fc.constantFrom(...changes),
              // Instants within two days of the change, the minutes around it most often.
              fc.array(
                fc.oneof(
                  fc.integer({ min: -2 * DAY, max: 2 * DAY }),
                  fc.integer({ min: -2 * HOUR, max: 2 * HOUR }),
                ),
                { minLength: 1, maxLength: 30 },
              ),
              fc.boolean(),
              async (change, offsets, rollUp) => {
                const productId = `dst-${++run}`
                for (const offset of offsets) {
                  analytics.track(
                    'viewed',
                    { productId },
                    { userId: 'u-dst', timestamp: change + offset },
                  )
                }
                await analytics.flush()
                if (rollUp) await analytics.rollup()
                const expected = new Map<string, number>()
                for (const offset of offsets) {
                  const day = localDate(change + offset, timeZone)
                  expected.set(day, (expected.get(day) ?? 0) + 1)
                }
                const points = await analytics.series('viewed', {
                  from: new Date(change - 3 * DAY),
                  to: new Date(change + 3 * DAY),
                  where: { productId },
                })
                const counted = new Map<string, number>()
                for (const point of points.slice(1)) {
                  // A local day starts at its first instant: the instant before is the day before.
                  const start = point.start.getTime()
                  expect(localDate(start - 1, timeZone)).not.toBe(localDate(start, timeZone))
                }
                for (const point of points) {
                  if (point.count > 0)
                    counted.set(localDate(point.start.getTime(), timeZone), point.count)
                }
                expect(counted).toEqual(expected)
                // Consecutive days are 23, 24 or 25 hours apart, the change's own day not 24.
                const lengths = points
                  .slice(1, -1)
                  .map((point, i) => (points[i + 2]?.start.getTime() ?? 0) - point.start.getTime())
                for (const length of lengths)
                  expect([23 * HOUR, 24 * HOUR, 25 * HOUR]).toContain(length)
                expect(lengths.some((length) => length !== 24 * HOUR)).toBe(true)
              },
            ),
            { numRuns: 12 },
          )
        }, 120_000)
      },
    )
  }
}
