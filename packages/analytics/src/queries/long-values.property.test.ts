import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  searched: z.object({ counted: z.string(), scanned: z.string() }),
  bought: z.object({ items: z.array(z.string()) }),
})

const DAY = 86_400_000
const START = Date.UTC(2026, 2, 2)

// Texts around the 255 characters a value keeps, of one- and two-unit characters (a cut by
// UTF-16 unit falls elsewhere than one by character, and can split a pair).
const longText = fc
  .array(fc.constantFrom('a', 'é', '€', '🍵', '𝄞'), { minLength: 240, maxLength: 270 })
  .map((chars) => chars.join(''))

/** A value as the README says it is kept: its first 255 characters, counted by code point. */
const kept = (text: string) => [...text].slice(0, 255).join('')

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`Values past 255 characters, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>
    beforeAll(async () => {
      subject = await startEngineApp(engine, {
        events,
        counts: { searched: ['counted'] },
        recommendations: { bought: { event: 'bought', items: 'items' } },
      })
    })
    afterAll(() => subject?.close())

    it('answer alike from the events and from the rollups, and each top value filters back to its count', async () => {
      const { analytics } = subject
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.array(longText, { minLength: 2, maxLength: 4 }), async (texts) => {
          run++
          // Each run on a day of its own, its values and people its own, so runs never meet.
          const from = new Date(START + run * DAY)
          const to = new Date(START + (run + 1) * DAY)
          const values = texts.map((text) => `${run}:${text}`)
          for (const [i, value] of values.entries()) {
            for (let n = 0; n <= i; n++) {
              analytics.track(
                'searched',
                { counted: value, scanned: value },
                { userId: `${run}-u${n}`, timestamp: from },
              )
            }
          }
          // Bought together by two people of this run only: "also bought" pairs over all time.
          for (const buyer of ['a', 'b']) {
            analytics.track(
              'bought',
              { items: values },
              { userId: `${run}-${buyer}`, timestamp: from },
            )
          }
          await analytics.flush()
          const expected = new Map<string, number>()
          values.forEach((value, i) => {
            expected.set(kept(value), (expected.get(kept(value)) ?? 0) + i + 1)
          })
          const answers = async () => {
            const byKey = []
            for (const key of ['counted', 'scanned'] as const) {
              const top = await analytics.top('searched', key, { from, to, limit: 10 })
              expect(new Map(top.map((t) => [t.value, t.count]))).toEqual(expected)
              for (const { value, count } of top) {
                const filtered = await analytics.series('searched', {
                  from,
                  to,
                  where: { [key]: value },
                })
                expect(filtered.reduce((sum, p) => sum + p.count, 0)).toBe(count)
              }
              for (const value of values) {
                const filtered = await analytics.series('searched', {
                  from,
                  to,
                  where: { [key]: value },
                })
                expect(filtered.reduce((sum, p) => sum + p.count, 0)).toBe(
                  expected.get(kept(value)),
                )
              }
              byKey.push(top)
            }
            return byKey
          }
          const before = await answers()
          await analytics.rollup()
          expect(await answers()).toEqual(before)
          for (const value of values) {
            const others = await analytics.alsoBought(value)
            expect(new Set(others.map((o) => o.item))).toEqual(
              new Set(values.map(kept).filter((other) => other !== kept(value))),
            )
          }
        }),
        { numRuns: 8 },
      )
    }, 120_000)
  })
}
