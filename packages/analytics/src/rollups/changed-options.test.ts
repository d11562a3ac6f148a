import { createTestApp, FakeClock, privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { DATABASE } from '@mortar/core'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ANALYTICS, type Analytics } from '../analytics/analytics.js'
import { type AnalyticsModuleOptions, analyticsModule } from '../analytics/analytics-module.js'
import { defineEvents } from '../catalog/define-events.js'
import type { AnalyticsTables } from '../storage/analytics-tables.js'

const events = defineEvents({ viewed: z.object({ productId: z.string(), category: z.string() }) })
type Options = Omit<AnalyticsModuleOptions<typeof events>, 'events'>

const HOUR = 3_600_000
const MARCH_2 = Date.UTC(2026, 2, 2)

/** Apps one after another on one database, as an app redeployed with other options. */
async function onOneDatabase(
  engine: Parameters<typeof privateDatabaseUrl>[0],
  run: (
    start: (options: Options) => Promise<{
      analytics: Analytics<typeof events>
      db: Kysely<AnalyticsTables>
      stop(): Promise<void>
    }>,
  ) => Promise<void>,
): Promise<void> {
  const database = await privateDatabaseUrl(engine)
  const clock = new FakeClock('2026-03-04T10:00:00Z')
  try {
    await run(async (options) => {
      const app = createTestApp({
        database: database.url,
        clock,
        jobs: { workers: false },
        modules: [analyticsModule({ events, ...options })],
      })
      await app.migrate()
      await app.start()
      return {
        analytics: app.resolve(ANALYTICS) as unknown as Analytics<typeof events>,
        db: app.resolve(DATABASE).kysely as Kysely<AnalyticsTables>,
        stop: () => app.stop(),
      }
    })
  } finally {
    await database.drop()
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `Rollups built under other options, ${engine.title}`,
    () => {
      it('answers for a key added to counts from the events, before the next rollup and after it', async () => {
        await onOneDatabase(engine, async (start) => {
          const before = await start({ counts: { viewed: ['productId'] } })
          for (const [hour, category] of [
            [1, 'tea'],
            [2, 'tea'],
            [30, 'cups'],
          ] as const) {
            before.analytics.track(
              'viewed',
              { productId: `p${hour}`, category },
              { timestamp: new Date(MARCH_2 + hour * HOUR) },
            )
          }
          await before.analytics.flush()
          await before.analytics.rollup()
          await before.stop()

          const after = await start({ counts: { viewed: ['productId', 'category'] } })
          const { analytics } = after
          const from = new Date(MARCH_2)
          const to = new Date(MARCH_2 + 2 * 24 * HOUR)
          const expectAnswers = async () => {
            // Before, 0 and [] for every day counted before the key was added.
            expect(
              (await analytics.series('viewed', { from, to, where: { category: 'tea' } })).map(
                (p) => p.count,
              ),
            ).toEqual([2, 0])
            expect(await analytics.top('viewed', 'category', { from, to })).toEqual([
              { value: 'tea', count: 2 },
              { value: 'cups', count: 1 },
            ])
          }
          await expectAnswers()
          analytics.track(
            'viewed',
            { productId: 'p9', category: 'cups' },
            { timestamp: new Date(MARCH_2 + 31 * HOUR) },
          )
          await analytics.flush()
          await analytics.rollup()
          // The rollup counted the key from the stored events: the answers read it.
          const rows = await after.db
            .selectFrom('mortar_analytics_daily')
            .select(['day', 'value', 'count'])
            .where('prop', '=', 'category')
            .orderBy('day')
            .orderBy('value')
            .execute()
          expect(rows.map((row) => [row.day, row.value, Number(row.count)])).toEqual([
            ['2026-03-02', 'tea', 2],
            ['2026-03-03', 'cups', 2],
          ])
          expect(
            (await analytics.series('viewed', { from, to, where: { category: 'cups' } })).map(
              (p) => p.count,
            ),
          ).toEqual([0, 2])
          expect(await analytics.top('viewed', 'category', { from, to })).toEqual([
            { value: 'cups', count: 2 },
            { value: 'tea', count: 2 },
          ])
          await after.stop()
        })
      })

      it('answers days of a new time zone from the events, and the rollup counts them again in it', async () => {
        await onOneDatabase(engine, async (start) => {
          const before = await start({ counts: { viewed: ['category'] } })
          // 09:00 and 10:00 UTC on 2 March: 23:00 on the 2nd and 00:00 on the 3rd at UTC+14.
          for (const hour of [9, 10, 11]) {
            before.analytics.track(
              'viewed',
              { productId: 'p1', category: 'tea' },
              { timestamp: new Date(MARCH_2 + hour * HOUR) },
            )
          }
          await before.analytics.flush()
          await before.analytics.rollup()
          await before.stop()

          const after = await start({
            timeZone: 'Pacific/Kiritimati',
            counts: { viewed: ['category'] },
          })
          const { analytics } = after
          const from = new Date('2026-03-02T00:00:00+14:00')
          const to = new Date('2026-03-04T00:00:00+14:00')
          const expectAnswers = async () => {
            // Before, the UTC day's 3 were read as the 2nd at UTC+14, and the 3rd had none.
            expect((await analytics.series('viewed', { from, to })).map((p) => p.count)).toEqual([
              1, 2,
            ])
            expect(
              (await analytics.series('viewed', { from, to, where: { category: 'tea' } })).map(
                (p) => p.count,
              ),
            ).toEqual([1, 2])
          }
          await expectAnswers()
          await analytics.rollup()
          await expectAnswers()
          const days = await after.db
            .selectFrom('mortar_analytics_daily')
            .select(['day', 'prop', 'count'])
            .orderBy('prop')
            .orderBy('day')
            .execute()
          expect(days.map((row) => [row.prop, row.day, Number(row.count)])).toEqual([
            ['', '2026-03-02', 1],
            ['', '2026-03-03', 2],
            ['category', '2026-03-02', 1],
            ['category', '2026-03-03', 2],
          ])
          await after.stop()
        })
      })
    },
  )
}
