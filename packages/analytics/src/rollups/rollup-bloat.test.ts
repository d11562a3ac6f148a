import { JOBS } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CHURNED_TABLES } from '../storage/analytics-tables.js'
import { type EngineApp, startViewsApp, type viewEvents } from '../testing/engine-app.js'

// PostgreSQL only: an update or delete there leaves a dead row version that only a vacuum
// reclaims, and the server under test, like many managed ones, runs no autovacuum. SQLite and
// MariaDB reuse the space by themselves: the counts this reads do not exist there.
for (const engine of testEngines().filter((each) => each.engine === 'postgres')) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`Rollup tables on ${engine.title}`, () => {
    let subject: EngineApp<typeof viewEvents>
    beforeAll(async () => {
      subject = await startViewsApp(engine)
    })
    afterAll(() => subject?.close())

    // A day's top list full (150 values for 100 places), each visitor viewing a few products.
    const views = async (round: number, count: number) => {
      for (let i = 0; i < count; i++) {
        subject.analytics.track(
          'product_viewed',
          { productId: `p-${(round * 7 + i * 13) % 150}` },
          { anonymousId: `visitor-${(round + i) % 40}` },
        )
      }
      await subject.analytics.flush()
    }

    it('rewrites only the top-list rows whose count changed', async () => {
      const { analytics, db } = subject
      for (let round = 0; round < 10; round++) await views(round, 30)
      await analytics.rollup()
      const versions = async () => {
        const { rows } = await sql<{ value: string; version: string }>`
          select value, xmin::text as version from mortar_analytics_top
          union all select '(threshold)', xmin::text from mortar_analytics_top_day`.execute(db)
        return new Map(rows.map((row) => [row.value, row.version]))
      }
      const before = await versions()
      expect(before.size).toBe(101)
      // One more view of a listed product: its count is the only one that changed.
      const [listed] = [...before.keys()].filter((value) => value !== '(threshold)')
      analytics.track('product_viewed', { productId: listed as string }, { anonymousId: 'v-new' })
      await analytics.flush()
      await analytics.rollup()
      const after = await versions()
      const rewritten = [...new Set([...before.keys(), ...after.keys()])].filter(
        (value) => before.get(value) !== after.get(value),
      )
      // Before, the whole list and its threshold were deleted and inserted again: 101 dead rows.
      expect(rewritten).toEqual([listed])
    })

    it('keeps the dead rows of every table under 50 + 20% of its live ones, schedule after schedule', async () => {
      const { app, clock, db } = subject
      for (let round = 0; round < 20; round++) {
        await views(round, 30)
        clock.advance(60_000)
        await app.resolve(JOBS).drain()
      }
      // Each rollup flushed its statistics as it committed: the check after it saw them, and so does this.
      const { rows } = await sql<{ table: string; dead: string; live: string }>`
        select relname as table, n_dead_tup as dead, n_live_tup as live from pg_stat_user_tables
        where schemaname = current_schema()`.execute(db)
      const over = rows
        .filter((row) => (CHURNED_TABLES as readonly string[]).includes(row.table))
        .filter((row) => Number(row.dead) > 50 + 0.2 * Number(row.live))
      // Before: mortar_analytics_top alone grew by about 100 dead rows a rollup.
      expect(over).toEqual([])
      expect(rows.find((row) => row.table === 'mortar_analytics_top')?.live).toBeDefined()
    })
  })
}
