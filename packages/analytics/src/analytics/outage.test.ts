import { createTestApp, privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { DATABASE } from '@mortar/core'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { CuttableProxy } from '../testing/cuttable-proxy.js'
import type { DropReport } from '../tracker/index.js'
import { ANALYTICS } from './analytics.js'
import { analyticsModule } from './analytics-module.js'

const events = defineEvents({ heartbeat: z.object({ n: z.int() }) })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// Server engines only: an outage is a server going away. (SQLite is a file in the process.)
for (const engine of testEngines().filter((e) => e.engine !== 'sqlite')) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `a database outage under steady tracking, ${engine.title}`,
    () => {
      // The outage is 30 s; 10 s proves the same here: with retryMaxMs 500 the backoff
      // is at its ceiling after about a second, so the rest of the outage is more of the same
      // capped, jittered retries (about 20 in 10 s, 60 in 30 s), while 2,000 events pile up
      // in the buffer. CI keeps the 40 s.
      const outageMs = 10_000

      async function run(capacity: number, downMs: number) {
        const database = await privateDatabaseUrl(engine)
        const proxy = await CuttableProxy.to(
          database.url,
          engine.engine === 'postgres' ? 5432 : 3306,
        )
        const reports: DropReport[] = []
        const app = createTestApp({
          database: { url: proxy.via(database.url), connectTimeoutMs: 1_000 },
          jobs: { workers: false },
          modules: [
            analyticsModule({
              events,
              buffer: { capacity, batchSize: 100, maxAgeMs: 50, retryMaxMs: 500 },
              onDrop: (report) => reports.push(report),
            }),
          ],
        })
        await app.migrate()
        await app.start()
        const analytics = app.resolve(ANALYTICS)
        let n = 0
        // About 200 events a second, every one with a distinct n.
        const ticker = setInterval(() => {
          for (let i = 0; i < 2; i++) analytics.track('heartbeat', { n: n++ })
        }, 10)
        let duringOutage = 0
        try {
          await sleep(500)
          await proxy.cut()
          const before = n
          await sleep(downMs)
          duringOutage = n - before
          await proxy.start()
          await sleep(500)
        } finally {
          clearInterval(ticker)
        }
        await analytics.flush({ timeoutMs: 30_000 })
        await sleep(10) // the drop report of the last tick
        const db = app.resolve(DATABASE).kysely as Kysely<{
          mortar_analytics_event: { properties: unknown }
        }>
        const rows = await db.selectFrom('mortar_analytics_event').select('properties').execute()
        const stored = new Set(
          rows.map(
            (row) =>
              (typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties)
                .n as number,
          ),
        )
        const reported = reports.reduce((sum, report) => sum + report.count, 0)
        await app.stop()
        await proxy.cut()
        await database.drop()
        return {
          tracked: n,
          duringOutage,
          stored,
          storedRows: rows.length,
          reported,
          stats: analytics.stats(),
        }
      }

      it(
        `keeps every event through ${outageMs / 1_000} s down when they fit the buffer`,
        async () => {
          const result = await run(20_000, outageMs)
          expect(result.stats.stored).toBe(result.tracked)
          expect(result.storedRows).toBe(result.tracked)
          expect(result.stored.size).toBe(result.tracked)
          expect(result.reported).toBe(0)
          expect(result.duringOutage).toBeGreaterThan(0)
        },
        outageMs + 60_000,
      )

      it('reports every event it drops once the buffer is full, and stores the rest once', async () => {
        const result = await run(300, 5_000)
        expect(result.reported).toBeGreaterThan(0)
        expect(result.reported).toBe(result.stats.dropped.overflow)
        expect(result.storedRows).toBe(result.stored.size)
        expect(result.storedRows + result.reported).toBe(result.tracked)
      }, 60_000)
    },
  )
}
