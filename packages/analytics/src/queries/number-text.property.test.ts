import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  measured: z.object({ v: z.number() }),
  order_completed: z.object({ productIds: z.array(z.union([z.string(), z.number()])) }),
})

const DAY = 86_400_000
const HOUR = 3_600_000

// Every finite double, and the ones whose text differs between engines' own number printing:
// an exponent from 1e21 up and below 1e-6 in JavaScript, 17 digits, past 2^63.
const number = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    1e21,
    -1e21,
    1.5e300,
    1e-7,
    -1.2345e-10,
    5e-324,
    Number.MAX_VALUE,
    0.000001,
    0.00001,
    0.30000000000000004,
    12345678901234567000,
    2 ** 64,
    999999999999999900000,
    -0,
  ),
)

function counted(values: readonly number[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const value of values) counts.set(String(value), (counts.get(String(value)) ?? 0) + 1)
  return counts
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`Numbers in properties, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>
    beforeAll(async () => {
      subject = await startEngineApp(engine, {
        events,
        counts: { measured: ['v'] },
        recommendations: { bought: { event: 'order_completed', items: 'productIds' } },
      })
    })
    afterAll(() => subject?.close())

    it('read back as JavaScript writes them: top values, filtered series and items, from the events and from the rollups', async () => {
      const { analytics } = subject
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.array(number, { minLength: 1, maxLength: 6 }), async (values) => {
          run++
          // A day of its own per run.
          const day = Date.UTC(2026, 0, 1) + run * DAY
          const anchor = `anchor-${run}`
          for (const v of values) {
            analytics.track('measured', { v }, { timestamp: day + HOUR })
          }
          analytics.track(
            'order_completed',
            { productIds: [anchor, ...values] },
            { userId: `buyer-${run}`, timestamp: day + HOUR },
          )
          await analytics.flush()
          const expected = counted(values)
          const byCount = (list: readonly { value: string; count: number }[]) =>
            new Map(list.map(({ value, count }) => [value, count]))
          const whole = { from: new Date(day), to: new Date(day + DAY), limit: 100 }
          // Pending batches first (read from the events), then the rollups.
          expect(byCount(await analytics.top('measured', 'v', whole))).toEqual(expected)
          await analytics.rollup()
          expect(byCount(await analytics.top('measured', 'v', whole))).toEqual(expected)
          const part = { from: new Date(day + 1), to: new Date(day + DAY), limit: 100 }
          expect(byCount(await analytics.top('measured', 'v', part))).toEqual(expected)
          for (const [text, count] of expected) {
            const v = Number(text)
            const daily = await analytics.series('measured', { ...whole, where: { v } })
            const hourly = await analytics.series('measured', {
              ...whole,
              interval: 'hour',
              where: { v },
            })
            expect(daily.map((point) => point.count)).toEqual([count])
            expect(hourly.reduce((sum, point) => sum + point.count, 0)).toBe(count)
          }
          const items = await analytics.alsoBought(anchor, { minSupport: 1, limit: 100 })
          expect(new Set(items.map((row) => row.item))).toEqual(new Set(expected.keys()))
        }),
        { numRuns: 20 },
      )
    }, 120_000)
  })
}
