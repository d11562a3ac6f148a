import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'
import { rowCountingQueries } from '../testing/row-counting-queries.js'

const events = defineEvents({ viewed: z.object({ tag: z.string() }) })
const FROM = Date.UTC(2026, 2, 2)
const HOUR = 3_600_000

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`series rows, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events, timeZone: 'UTC' })
      // 200 events at 200 distinct milliseconds of two hours.
      for (let i = 0; i < 200; i++)
        subject.analytics.track(
          'viewed',
          { tag: 'x' },
          { userId: 'u1', timestamp: FROM + i * 36_001 },
        )
      await subject.analytics.flush()
    })
    afterAll(() => subject?.close())

    // The events are counted per quarter hour in SQL: 8 of them in two hours. On SQLite the
    // range's origin was bound as a real, so the division was not whole and every distinct
    // time came back as a group of its own (200 rows).
    it('counts in SQL per quarter hour, whatever the number of distinct times', async () => {
      const { queries, returned } = rowCountingQueries(subject, engine, events, 15_000)
      const answer = await queries.series('viewed', {
        from: new Date(FROM),
        to: new Date(FROM + 2 * HOUR),
        interval: 'hour',
        where: { tag: 'x' },
      })
      expect(answer.map((point) => point.count)).toEqual([100, 100])
      expect(Math.max(...returned)).toBeLessThanOrEqual(8)
    })
  })
}
