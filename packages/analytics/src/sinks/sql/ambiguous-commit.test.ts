import { DATABASE } from '@mortar/core'
import { createTestApp, privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ANALYTICS } from '../../analytics/analytics.js'
import { analyticsModule } from '../../analytics/analytics-module.js'
import { defineEvents } from '../../catalog/define-events.js'
import type { AnalyticsTables } from '../../storage/analytics-tables.js'
import { CuttableProxy } from '../../testing/cuttable-proxy.js'
import type { DropReport } from '../../tracker/index.js'

const events = defineEvents({ heartbeat: z.object({ n: z.int() }) })

// PostgreSQL's batch of events is one query (COPY, then the log row): the log row's command
// tag is the last reply, sent once the query's implicit transaction has committed.
const postgres = testEngines().find((engine) => engine.engine === 'postgres')

// Skipped only when MORTAR_TEST_POSTGRES_URL is unset (the notice names it); .ci/run sets it.
describe.skipIf(postgres === undefined || postgres.skip !== undefined)(
  'a batch whose commit the tracker never heard of, PostgreSQL',
  () => {
    it('is written again on retry and stored once, nothing lost', async () => {
      const database = await privateDatabaseUrl(postgres!)
      const proxy = await CuttableProxy.to(database.url, 5432)
      const reports: DropReport[] = []
      const app = createTestApp({
        database: { url: proxy.via(database.url), connectTimeoutMs: 1_000 },
        jobs: { workers: false },
        modules: [
          analyticsModule({
            events,
            buffer: { batchSize: 100, retryBaseMs: 10, retryMaxMs: 50 },
            onDrop: (report) => reports.push(report),
          }),
        ],
      })
      try {
        await app.migrate()
        await app.start()
        const analytics = app.resolve(ANALYTICS)
        const cut = proxy.cutOnReply('INSERT 0 1')
        for (let n = 0; n < 250; n++) analytics.track('heartbeat', { n })
        await analytics.flush({ timeoutMs: 30_000 })
        await cut
        const db = app.resolve(DATABASE).kysely as Kysely<AnalyticsTables>
        const rows = await db.selectFrom('mortar_analytics_event').select('properties').execute()
        const stored = rows.map((row) => (row.properties as { n: number }).n).sort((a, b) => a - b)
        expect(stored).toEqual(Array.from({ length: 250 }, (_, n) => n))
        expect(analytics.stats().stored).toBe(250)
        expect(reports).toEqual([])
        const logged = await db.selectFrom('mortar_analytics_batch').select('events').execute()
        expect(logged.map((row) => Number(row.events)).sort()).toEqual([100, 100, 50])
      } finally {
        await app.stop()
        await proxy.cut()
        await database.drop()
      }
    }, 60_000)
  },
)
