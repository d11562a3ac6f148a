import { DATABASE, Database, transaction } from '@mortar/core'
import { createTestApp, type TestApp, testEngines } from '@mortar/core/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ANALYTICS, type Analytics } from '../analytics/analytics.js'
import { analyticsModule } from '../analytics/analytics-module.js'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, inRequest, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({ product_viewed: z.object({ productId: z.string() }) })
const recommendations = { viewed: { event: 'product_viewed', item: 'productId' } } as const

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`Cookieless visitor ids on ${engine.title}`, () => {
    if (engine.skip) console.info(`[skipped] ${engine.title}: ${engine.skip}`)
    let first: EngineApp<typeof events>
    // A second process of the app, on the same database.
    let second: TestApp
    let secondAnalytics: Analytics<typeof events>

    beforeAll(async () => {
      first = await startEngineApp(engine, { events, site: 'test', recommendations })
      second = createTestApp({
        database: first.url,
        clock: first.clock,
        jobs: { workers: false },
        modules: [analyticsModule({ events, site: 'test', recommendations })],
      })
      await second.start()
      secondAnalytics = second.resolve(ANALYTICS) as unknown as Analytics<typeof events>
    })
    afterAll(async () => {
      await second?.stop()
      await first?.close()
    })

    /** A view tracked in a request of each process, then both flushed. */
    async function trackInEachProcess(): Promise<void> {
      inRequest(first.app, {}, () =>
        first.analytics.track('product_viewed', { productId: 'first' }),
      )
      inRequest(second, {}, () => secondAnalytics.track('product_viewed', { productId: 'second' }))
      await first.analytics.flush()
      await secondAnalytics.flush()
    }

    /** The anonymous ids of the events from the start of the UTC `day` on. */
    function anonymousIdsFrom(day: string) {
      return first.db
        .selectFrom('mortar_analytics_event')
        .select('anonymous_id')
        .where('occurred_at', '>=', Date.parse(`${day}T00:00:00Z`))
        .execute()
    }

    it("give a visitor one id across processes even when the day's salt was drawn in a transaction that rolled back", async () => {
      const { analytics, app } = first
      // The day's first event of this process is written by trackNow in a checkout that fails.
      await expect(
        inRequest(app, {}, () =>
          transaction(
            async () => {
              await analytics.trackNow('product_viewed', { productId: 'rolled-back' })
              throw new Error('checkout failed')
            },
            // Two apps run in this process: the transaction is the first one's.
            { database: app.resolve(DATABASE) },
          ),
        ),
      ).rejects.toThrow('checkout failed')
      await trackInEachProcess()
      const ids = await anonymousIdsFrom('2026-03-02')
      expect(ids).toHaveLength(2)
      expect(ids[0]?.anonymous_id).toMatch(/^[0-9a-f]{32}$/)
      expect(ids[1]?.anonymous_id).toBe(ids[0]?.anonymous_id)
      const day = { from: new Date('2026-03-02T00:00:00Z'), to: new Date('2026-03-03T00:00:00Z') }
      expect(await analytics.uniques(['product_viewed'], day)).toBe(1)
    })

    // SQLite writes one transaction at a time, so there no salt commits under an open one.
    if (engine.engine !== 'sqlite')
      it("reads the day's salt that another process committed after the caller's transaction began", async () => {
        const { analytics, app, clock } = first
        clock.set('2026-03-03T10:00:00Z')
        const database = second.resolve(DATABASE)
        await inRequest(second, {}, () =>
          transaction(
            async (trx) => {
              // The transaction has read (on MariaDB, its snapshot is taken) before the salt exists.
              await sql`select day from mortar_analytics_salt`.execute(trx)
              inRequest(app, {}, () => analytics.track('product_viewed', { productId: 'outside' }))
              await analytics.flush()
              await secondAnalytics.trackNow('product_viewed', { productId: 'inside' })
            },
            { database },
          ),
        )
        const ids = await anonymousIdsFrom('2026-03-03')
        expect(ids).toHaveLength(2)
        expect(ids[0]?.anonymous_id).toMatch(/^[0-9a-f]{32}$/)
        expect(ids[1]?.anonymous_id).toBe(ids[0]?.anonymous_id)
      })

    it('never merges the people behind one address and browser into the first who signs in', async () => {
      const { analytics, app, db, clock } = first
      clock.set('2026-03-05T10:00:00Z')
      const office = { ip: '198.51.100.77', userAgent: 'Office/1.0' }
      const track = (productId: string, principal?: { id: string }) =>
        inRequest(app, { ...office, principal }, () =>
          analytics.track('product_viewed', { productId }),
        )
      // Colleagues on one network with one browser build: one cookieless id for all of them.
      track('p-anonymous-1')
      inRequest(app, { ...office, principal: { id: 'u-first' } }, () =>
        analytics.identify('u-first'),
      )
      track('p-first', { id: 'u-first' })
      track('p-anonymous-2')
      inRequest(app, { ...office, principal: { id: 'u-second' } }, () =>
        analytics.identify('u-second'),
      )
      await analytics.flush()
      await analytics.rollup()
      const day = { from: new Date('2026-03-05T00:00:00Z'), to: new Date('2026-03-06T00:00:00Z') }
      // The two users, and the anonymous visits as one visitor: not all of them as u-first.
      expect(await analytics.uniques(['product_viewed', '$identify'], day)).toBe(3)
      expect(await db.selectFrom('mortar_analytics_identity').selectAll().execute()).toEqual([])
      // Forgetting u-first takes their identify and view, not the anonymous visitors' views.
      expect(await analytics.forgetUser('u-first')).toMatchObject({ events: 2 })
      const left = await db
        .selectFrom('mortar_analytics_event')
        .select('properties')
        .where('occurred_at', '>=', Date.parse('2026-03-05T00:00:00Z'))
        .where('name', '=', 'product_viewed')
        .execute()
      expect(left).toHaveLength(2)
      // Nor what the anonymous visitors viewed together.
      const related = await analytics.alsoViewed('p-anonymous-1', { minSupport: 1 })
      expect(related.map((r) => r.item)).toEqual(['p-anonymous-2'])
    })

    // An app with a second database: afterCommit registered on its transaction, open inside the
    // app's, so the day's salt and the event were kept at its commit though the app's rolled back.
    it("keeps no event nor salt of the app's rolled-back transaction when another database's transaction was open inside it", async () => {
      const { analytics, app, clock } = first
      clock.set('2026-03-09T10:00:00Z')
      const other = new Database('sqlite::memory:')
      try {
        await expect(
          inRequest(app, {}, () =>
            transaction(
              async () => {
                await other.transaction(async () => {
                  await analytics.trackNow('product_viewed', { productId: 'nested, written' })
                  analytics.track('product_viewed', { productId: 'nested, queued' })
                })
                throw new Error('checkout failed')
              },
              { database: app.resolve(DATABASE) },
            ),
          ),
        ).rejects.toThrow('checkout failed')
      } finally {
        await other.destroy()
      }
      await trackInEachProcess()
      const ids = await anonymousIdsFrom('2026-03-09')
      expect(ids).toHaveLength(2)
      expect(ids[1]?.anonymous_id).toBe(ids[0]?.anonymous_id)
    })

    it('makes no id for a day whose salt is past its life, though this process still held it', async () => {
      const { analytics, app, db, clock } = first
      clock.set('2026-03-11T10:00:00Z')
      const visit = (at?: string) =>
        inRequest(app, {}, () =>
          analytics.track(
            'product_viewed',
            { productId: 'stale' },
            at ? { timestamp: Date.parse(at) } : {},
          ),
        )
      visit()
      await analytics.flush()
      // Three days on, the day's salt is gone for good: retention (in the other process) deleted it.
      clock.set('2026-03-14T10:00:00Z')
      await secondAnalytics.applyRetention()
      expect(await db.selectFrom('mortar_analytics_salt').select('day').execute()).toEqual([])
      visit('2026-03-11T11:00:00Z')
      await analytics.flush()
      const ids = await db
        .selectFrom('mortar_analytics_event')
        .select('anonymous_id')
        .where('occurred_at', '>=', Date.parse('2026-03-11T00:00:00Z'))
        .where('occurred_at', '<', Date.parse('2026-03-12T00:00:00Z'))
        .orderBy('occurred_at')
        .execute()
      expect(ids).toHaveLength(2)
      expect(ids[0]?.anonymous_id).toMatch(/^[0-9a-f]{32}$/)
      // Made with the salt this process still held, it joined the late visit to that day's visitor.
      expect(ids[1]?.anonymous_id).toBeNull()
    })
  })
}
