import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'
import { rowCountingQueries } from '../testing/row-counting-queries.js'

const events = defineEvents({ searched: z.object({ counted: z.string(), scanned: z.string() }) })
const FROM = Date.UTC(2026, 2, 2)
const TO = FROM + 86_400_000
// Tied first: U+FFFD and a tea cup (U+1F375), which UTF-16 orders the other way round.
const LEADERS = ['\uFFFD', '🍵']

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`top rows, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, {
        events,
        timeZone: 'UTC',
        counts: { searched: ['counted'] },
      })
      const values = [
        ...Array.from({ length: 300 }, (_, i) => `q${i}`),
        ...LEADERS.flatMap((value) => new Array<string>(5).fill(value)),
      ]
      for (const [i, value] of values.entries()) {
        subject.analytics.track(
          'searched',
          { counted: value, scanned: value },
          { userId: 'u1', timestamp: FROM + i },
        )
      }
      await subject.analytics.flush()
    })
    afterAll(() => subject?.close())

    // Ranked and cut in SQL: the 302 distinct values came back to be ranked in the process.
    it('reads only the values it returns, ties in code point order as from the rollups', async () => {
      const { queries, returned } = rowCountingQueries(subject, engine, events, 15_000)
      const range = { from: new Date(FROM), to: new Date(TO) }
      const expected = LEADERS.map((value) => ({ value, count: 5 }))
      expect(await queries.top('searched', 'scanned', { ...range, limit: 2 })).toEqual(expected)
      expect(Math.max(...returned)).toBe(2)
      await subject.analytics.rollup()
      expect(await queries.top('searched', 'counted', { ...range, limit: 2 })).toEqual(expected)
    })
  })
}
