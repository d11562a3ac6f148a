import { DATABASE } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { AnalyticsQueries } from '../queries/analytics-queries.js'
import type { QueryScope } from '../queries/query-scope.js'
import { engineOf } from '../storage/sql-dialect.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'
import type { RollupPlan } from './rollup-config.js'
import { Rollups } from './rollups.js'

const events = defineEvents({
  searched: z.object({ query: z.string() }),
  viewed: z.object({ productId: z.string(), featured: z.boolean() }),
})

const DAY = 86_400_000
const START = Date.UTC(2026, 2, 2, 0) // 00:00 UTC = 01:00 in Paris
const TIME_ZONE = 'Europe/Paris'
// Three values kept per day, so the top lists' thresholds and their fallback are exercised.
const plan: RollupPlan = {
  timeZone: TIME_ZONE,
  counts: new Map([
    ['searched', ['query']],
    ['viewed', ['productId', 'featured']],
  ]),
  items: new Map(),
  topSize: 3,
  unitCap: 50,
}

const arbitraryEvent = fc.oneof(
  fc.record({
    name: fc.constant('searched' as const),
    properties: fc.record({
      query: fc.constantFrom('tea', 'Tea', 'coffee', 'mug', 'pot', 'cup', 'green tea'),
    }),
    at: fc.integer({ min: 0, max: 4 * DAY - 1 }),
  }),
  fc.record({
    name: fc.constant('viewed' as const),
    properties: fc.record({
      productId: fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5'),
      featured: fc.boolean(),
    }),
    at: fc.integer({ min: 0, max: 4 * DAY - 1 }),
  }),
)

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `rollups equal the raw events, ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>
      let rollups: Rollups
      let queries: AnalyticsQueries

      beforeAll(async () => {
        subject = await startEngineApp(engine, { events, timeZone: TIME_ZONE })
        const db = subject.app.resolve(DATABASE).kysely as Kysely<unknown>
        const scope: QueryScope = { db, engine: engineOf(db), timeZone: TIME_ZONE }
        rollups = new Rollups(scope, plan)
        queries = new AnalyticsQueries(scope, plan, 15_000)
      })
      afterAll(() => subject?.close())

      it('series and top read from rollups (with pending batches) equal the same computed from events', async () => {
        // Whole Paris days around the events.
        const from = new Date(START - 3_600_000)
        const to = new Date(START - 3_600_000 + 5 * DAY)
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.array(arbitraryEvent, { maxLength: 40 }), { minLength: 1, maxLength: 4 }),
            fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
            async (chunks, rollAfter) => {
              for (const [i, chunk] of chunks.entries()) {
                for (const event of chunk) {
                  subject.analytics.track(event.name, event.properties as never, {
                    userId: 'someone',
                    timestamp: START + event.at,
                  })
                }
                await subject.analytics.flush()
                // Some chunks stay pending: the answers must add them to the rollups exactly.
                if (rollAfter[i]) await rollups.run()
              }
              for (const [event, key, where] of [
                ['searched', 'query', undefined],
                ['viewed', 'productId', undefined],
                ['viewed', 'featured', { featured: true }],
                ['viewed', 'productId', { productId: 'p2' }],
              ] as const) {
                const rolled = await queries.series(event, { from, to, where })
                const raw = await queries.rawSeries(event, {
                  from: from.getTime(),
                  to: to.getTime(),
                  interval: 'day',
                  timeZone: TIME_ZONE,
                  filter:
                    where === undefined
                      ? []
                      : Object.entries(where).map(([k, v]) => [k, String(v)]),
                })
                expect(rolled).toEqual(raw)
                for (const limit of [1, 3]) {
                  const top = await queries.top(event, key, { from, to, limit })
                  expect(top).toEqual(
                    await queries.rawTop(event, key, {
                      from: from.getTime(),
                      to: to.getTime(),
                      limit,
                    }),
                  )
                }
              }
            },
          ),
          { numRuns: engine.engine === 'sqlite' ? 15 : 12 },
        )
      }, 120_000)
    },
  )
}
