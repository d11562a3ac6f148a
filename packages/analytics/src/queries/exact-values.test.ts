import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({ searched: z.object({ query: z.string(), raw: z.string() }) })
const FROM = Date.UTC(2026, 2, 2)
const TO = FROM + 86_400_000
// Values that differ only by trailing spaces, or by case: MariaDB's JSON text padded spaces.
const QUERIES = ['tea', 'tea', 'tea ', 'tea  ', 'Tea']

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`values compared exactly, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, {
        events,
        timeZone: 'UTC',
        counts: { searched: ['query'] },
      })
      for (const [i, query] of QUERIES.entries()) {
        subject.analytics.track(
          'searched',
          { query, raw: query },
          { userId: `u${i}`, timestamp: FROM + i },
        )
        subject.analytics.page(
          { path: `/search/${query}` },
          { userId: `u${i}`, timestamp: FROM + i },
        )
      }
      await subject.analytics.flush()
    })
    afterAll(() => subject?.close())

    const expected = [
      { value: 'tea', count: 2 },
      { value: 'Tea', count: 1 },
      { value: 'tea ', count: 1 },
      { value: 'tea  ', count: 1 },
    ]

    it('keeps values apart that differ by trailing spaces, from the events and the rollups', async () => {
      const { analytics } = subject
      const range = { from: new Date(FROM), to: new Date(TO) }
      expect(await analytics.top('searched', 'raw', { ...range, limit: 10 })).toEqual(expected)
      expect(await analytics.top('searched', 'query', { ...range, limit: 10 })).toEqual(expected)
      await analytics.rollup()
      expect(await analytics.top('searched', 'query', { ...range, limit: 10 })).toEqual(expected)
      for (const key of ['query', 'raw'] as const) {
        const series = await analytics.series('searched', { ...range, where: { [key]: 'tea' } })
        expect(series.map((point) => point.count)).toEqual([2])
      }
      const funnel = await analytics.funnel([{ event: 'searched', where: { raw: 'tea ' } }], {
        ...range,
        windowMs: 1_000,
      })
      expect(funnel[0]?.count).toBe(1)
      const paths = (await analytics.dwell(range)).map((row) => [row.path, row.views])
      expect(paths).toHaveLength(4)
    })
  })
}
