import { DATABASE, createApp, defineModule, type ModuleMigrations } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { SqlEventSink } from '../sinks/sql/sql-event-sink.js'
import { makeBatchId, makeStoredEvent } from '../testing/index.js'
import { analyticsMigrations } from './analytics-migrations.js'
import type { AnalyticsTables } from './analytics-tables.js'

/** The migrations before `name`. */
function before(name: string): ModuleMigrations {
  return Object.fromEntries(Object.entries(analyticsMigrations).filter(([key]) => key < name))
}

async function migrated(url: string, migrations: ModuleMigrations) {
  const app = createApp({
    database: url,
    modules: [defineModule({ name: 'analytics', register() {}, migrations })],
  })
  await app.migrate()
  await app.start()
  return { app, db: app.resolve(DATABASE).kysely as Kysely<AnalyticsTables> }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`analytics migrations, ${engine.title}`, () => {
    it('builds the ranked lists from the co-occurrences rolled up before they existed', async () => {
      const database = await privateDatabaseUrl(engine)
      try {
        const old = await migrated(database.url, before('0004'))
        await old.db
          .insertInto('mortar_analytics_item')
          .values([
            { kind: 'bought', item: 'a', units: 3 },
            { kind: 'bought', item: 'b', units: 2 },
            { kind: 'bought', item: 'c', units: 2 },
          ])
          .execute()
        await old.db
          .insertInto('mortar_analytics_pair')
          .values(
            [
              ['a', 'b', 2],
              ['b', 'a', 2],
              ['a', 'c', 2],
              ['c', 'a', 2],
              ['b', 'c', 1],
              ['c', 'b', 1],
            ].map(([item, other, count]) => ({
              kind: 'bought',
              item: item as string,
              other: other as string,
              count: count as number,
            })),
          )
          .execute()
        await old.app.stop()
        const now = await migrated(database.url, analyticsMigrations)
        const lists = await now.db
          .selectFrom('mortar_analytics_also')
          .selectAll()
          .orderBy('item')
          .orderBy('place')
          .execute()
        await now.app.stop()
        // Pairs of one person (b–c) are not listed; a's two others tie on cosine and count.
        expect(
          lists.map((r) => [r.item, Number(r.place), r.other, Number(r.together), Number(r.units)]),
        ).toEqual([
          ['a', 1, 'b', 2, 2],
          ['a', 2, 'c', 2, 2],
          ['b', 1, 'a', 2, 3],
          ['c', 1, 'a', 2, 3],
        ])
      } finally {
        await database.drop()
      }
    })

    it('keeps a user forgotten before the suppression mark out of later batches', async () => {
      const database = await privateDatabaseUrl(engine)
      try {
        const old = await migrated(database.url, before('0007'))
        await old.db
          .insertInto('mortar_analytics_suppressed')
          .values({ user_id: 'u-earlier', suppressed_at: 0 })
          .execute()
        await old.app.stop()
        const now = await migrated(database.url, analyticsMigrations)
        const sink = new SqlEventSink({ db: now.db as Kysely<unknown> })
        const events = [makeStoredEvent({ userId: 'u-earlier' })]
        const outcome = await sink.write({ id: makeBatchId(), events, failed: [], links: [] })
        const stored = await now.db.selectFrom('mortar_analytics_event').select('id').execute()
        await now.app.stop()
        expect(outcome).toEqual({ suppressed: { events: 1, failed: 0 } })
        expect(stored).toEqual([])
      } finally {
        await database.drop()
      }
    })
  })
}
