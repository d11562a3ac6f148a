import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import type { CountsConfig } from '../rollups/rollup-config.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'
import { rowCountingQueries } from '../testing/row-counting-queries.js'

const events = defineEvents({ searched: z.object({ counted: z.string(), scanned: z.string() }) })
const FROM = Date.UTC(2026, 2, 2)
const TO = FROM + 86_400_000
// Tied first: U+FFFD and a tea cup (U+1F375), which UTF-16 orders the other way round.
const LEADERS = ['\uFFFD', '🍵']
const COUNTS: CountsConfig<typeof events> = { searched: ['counted'] }

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`top rows, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, {
        events,
        timeZone: 'UTC',
        counts: COUNTS,
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
      const { queries, returned } = rowCountingQueries(subject, engine, events, 15_000, COUNTS)
      const range = { from: new Date(FROM), to: new Date(TO) }
      const expected = LEADERS.map((value) => ({ value, count: 5 }))
      expect(await queries.top('searched', 'scanned', { ...range, limit: 2 })).toEqual(expected)
      expect(Math.max(...returned)).toBe(2)
      await subject.analytics.rollup()
      expect(await queries.top('searched', 'counted', { ...range, limit: 2 })).toEqual(expected)
    })
  })

  describe.skipIf(engine.skip !== undefined)(`top rows past the day lists, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>
    const track = (value: string, at: number) =>
      subject.analytics.track('searched', { counted: value, scanned: value }, { timestamp: at })

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events, timeZone: 'UTC', counts: COUNTS })
      // Day one: 400 values twice each, so its list of 100 ends at a threshold of 2 and cuts
      // out 'zz' (last in value order); day two: 'zz' once.
      for (let i = 0; i < 400; i += 1) {
        const value = `q${String(i).padStart(3, '0')}`
        track(value, FROM + i)
        track(value, FROM + 1_000 + i)
      }
      track('zz', FROM + 2_000)
      track('zz', FROM + 2_001)
      track('zz', TO + 1)
      await subject.analytics.flush()
      await subject.analytics.rollup()
      // Not rolled up yet: the tail lifts q399, in no day's list, to the top.
      track('q399', TO + 2)
      track('q399', TO + 3)
      await subject.analytics.flush()
    })
    afterAll(() => subject?.close())

    // The lists could not prove the answer exact (2 is no more than the 2 a value in no list
    // may have), and every one of the 401 values of the range came back to be summed.
    it('ranks the daily counts in SQL when the lists are not enough, tail included', async () => {
      const { queries, returned } = rowCountingQueries(subject, engine, events, 15_000, COUNTS)
      const range = { from: new Date(FROM), to: new Date(TO + 86_400_000) }
      expect(await queries.top('searched', 'counted', { ...range, limit: 3 })).toEqual([
        { value: 'q399', count: 4 },
        { value: 'zz', count: 3 },
        { value: 'q000', count: 2 },
      ])
      // The largest read is the day lists' candidates: 100 values, 'zz' and the tail's.
      expect(Math.max(...returned)).toBeLessThanOrEqual(102)
      expect(await queries.top('searched', 'scanned', { ...range, limit: 3 })).toEqual(
        await queries.top('searched', 'counted', { ...range, limit: 3 }),
      )
    })
  })
}
