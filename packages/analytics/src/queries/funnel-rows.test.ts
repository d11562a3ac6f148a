import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'
import { rowCountingQueries } from '../testing/row-counting-queries.js'

const events = defineEvents({
  a: z.object({ tag: z.string() }),
  b: z.object({ tag: z.string() }),
  c: z.object({ tag: z.string() }),
})
const MINUTE = 60_000
const FROM = Date.UTC(2026, 2, 2)
const TO = FROM + 3_600_000
const PEOPLE = 50

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`funnel rows, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events, timeZone: 'UTC' })
      const { analytics } = subject
      // Person i starts at minute i % 40 and repeats step 1 four times; even people add b a
      // minute later, people divisible by 6 then c; odd people do c without b.
      for (let i = 0; i < PEOPLE; i++) {
        const userId = `u${i}`
        const at = FROM + (i % 40) * MINUTE
        for (let k = 0; k < 5; k++)
          analytics.track('a', { tag: 'x' }, { timestamp: at + k, userId })
        if (i % 2 === 0) analytics.track('b', { tag: 'x' }, { timestamp: at + MINUTE, userId })
        if (i % 6 === 0 || i % 2 === 1)
          analytics.track('c', { tag: 'x' }, { timestamp: at + 2 * MINUTE, userId })
      }
      await analytics.flush()
    })
    afterAll(() => subject?.close())

    // PostgreSQL and SQLite answer in one row; MariaDB streams the events sorted by person, one
    // row per result (mysql2), and folds them one person at a time. Reading the range at once
    // returns every matching event (309 rows) in one result.
    it('never holds more than one row of a statement at a time', async () => {
      const { queries, returned } = rowCountingQueries(subject, engine, events, 15_000)
      const answer = await queries.funnel(
        [{ event: 'a' }, { event: 'b', where: { tag: 'x' } }, { event: 'c' }],
        {
          from: new Date(FROM),
          to: new Date(TO),
          windowMs: 5 * MINUTE,
        },
      )
      expect(answer.map((step) => step.count)).toEqual([PEOPLE, 25, 9])
      expect(returned.length).toBeGreaterThan(0)
      expect(Math.max(...returned)).toBe(1)
    })
  })
}
