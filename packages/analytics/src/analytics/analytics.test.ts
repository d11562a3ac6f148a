import { JOBS, transaction } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { purgeEventsBefore } from '../privacy/forget-user.js'
import { type EngineApp, inRequest, startEngineApp } from '../testing/engine-app.js'
import { uuidV7Time } from '@mortar/core'

const events = defineEvents({
  product_viewed: z.object({ productId: z.string() }),
  product_searched: z.object({ query: z.string().max(20), page: z.int().default(1) }),
})

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`Analytics tracking on ${engine.title}`, () => {
    if (engine.skip) console.info(`[skipped] ${engine.title}: ${engine.skip}`)
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events, site: 'test' })
    })
    afterAll(() => subject?.close())

    const rows = () =>
      subject.db.selectFrom('mortar_analytics_event').selectAll().orderBy('occurred_at').execute()

    /** The daily rollup rows of product_viewed on `day`, as counts. */
    const viewsOn = async (day: string) => {
      const daily = await subject.db
        .selectFrom('mortar_analytics_daily')
        .select('count')
        .where('name', '=', 'product_viewed')
        .where('day', '=', day)
        .execute()
      return daily.map((row) => Number(row.count))
    }

    it('stores a tracked event with its time-ordered id, identity from the request and validated properties', async () => {
      const { analytics, app, db } = subject
      inRequest(app, { principal: { id: 'u-1' } }, () => {
        analytics.track('product_searched', { query: 'green tea' })
      })
      await analytics.flush()
      const [row] = await db
        .selectFrom('mortar_analytics_event')
        .selectAll()
        .where('name', '=', 'product_searched')
        .execute()
      expect(row).toBeDefined()
      expect(uuidV7Time(row!.id)).toBe(Date.parse('2026-03-02T10:00:00Z'))
      expect(Number(row!.occurred_at)).toBe(Date.parse('2026-03-02T10:00:00Z'))
      expect(row!.user_id).toBe('u-1')
      expect(row!.anonymous_id).toMatch(/^[0-9a-f]{32}$/)
      const properties =
        typeof row!.properties === 'string' ? JSON.parse(row!.properties) : row!.properties
      expect(properties).toEqual({ query: 'green tea', page: 1 })
    })

    it('puts an event its schema refuses in the failed events with the reason, never throwing', async () => {
      const { analytics, db } = subject
      expect(() => analytics.track('product_searched', { query: 'x'.repeat(50) })).not.toThrow()
      // Untyped callers can name events the catalogue does not have, or pass what JSON cannot hold.
      ;(analytics.track as (name: string, properties: unknown) => void)('nope', {})
      analytics.track('product_viewed', { productId: 10n as unknown as string })
      await analytics.flush()
      const failed = await db
        .selectFrom('mortar_analytics_failed_event')
        .select(['name', 'reason', 'properties'])
        .orderBy('name')
        .execute()
      expect(failed.map((f) => f.name)).toEqual(['nope', 'product_searched', 'product_viewed'])
      expect(failed[0]!.reason).toMatch(/Unknown event 'nope'/)
      expect(failed[1]!.reason).toMatch(/^Invalid properties: query:/)
      expect(failed[2]!.reason).toMatch(/serialised/)
      expect(failed[2]!.properties).toBeNull()
      expect(analytics.stats().failed).toBe(3)
    })

    it('keeps an event whose timestamp is no time as failed, and stores the rest of its batch', async () => {
      const { analytics, db } = subject
      const bad = [Number.NaN, new Date('not a date'), -1, 2 ** 48, Number.POSITIVE_INFINITY]
      for (const timestamp of bad) {
        analytics.track('product_viewed', { productId: 'bad-time' }, { timestamp })
      }
      analytics.page({ path: '/bad-time' }, { timestamp: Number.NaN })
      // A fraction of a millisecond is cut, not refused.
      analytics.track(
        'product_viewed',
        { productId: 'good-time' },
        { timestamp: 1_700_000_000_000.7 },
      )
      await analytics.flush()
      const failed = await db
        .selectFrom('mortar_analytics_failed_event')
        .select(['reason'])
        .where('reason', 'like', 'The timestamp%')
        .execute()
      expect(failed).toHaveLength(bad.length + 1)
      const [good] = await db
        .selectFrom('mortar_analytics_event')
        .select(['occurred_at', 'id'])
        .where('occurred_at', '=', 1_700_000_000_000)
        .execute()
      expect(uuidV7Time(good!.id)).toBe(1_700_000_000_000)
    })

    // SQLite's and PostgreSQL's date functions write no day past 9999: one event in the year
    // 10000 failed every rollup from then on, the events of every later batch never counted.
    it('rolls up an event at the latest time it takes, and keeps a later one as failed', async () => {
      const { analytics, db } = subject
      analytics.track(
        'product_viewed',
        { productId: 'p-last' },
        { timestamp: Date.UTC(9999, 11, 31) - 1 },
      )
      analytics.track(
        'product_viewed',
        { productId: 'p-past' },
        { timestamp: Date.UTC(10000, 0, 2) },
      )
      await analytics.flush()
      await analytics.rollup()
      expect(await viewsOn('9999-12-30')).toEqual([1])
      const failed = await db
        .selectFrom('mortar_analytics_failed_event')
        .select('reason')
        .where('properties', 'like', '%p-past%')
        .execute()
      expect(failed).toEqual([{ reason: expect.stringContaining('9999-12-30') }])
    })

    it("links the visitor's own anonymous id to the user on identify", async () => {
      const { analytics, app, db } = subject
      const request = { ip: '198.51.100.4', userAgent: 'Identify/1.0' }
      // The app's first-party cookie: a cookieless id is never linked (visitor-ids.test.ts).
      const cookie = { anonymousId: 'c-identify' }
      inRequest(app, request, () => analytics.track('product_viewed', { productId: 'p-1' }, cookie))
      inRequest(app, request, () => analytics.identify('u-2', { plan: 'pro' }, cookie))
      await analytics.flush()
      const links = await db
        .selectFrom('mortar_analytics_identity')
        .selectAll()
        .where('user_id', '=', 'u-2')
        .execute()
      expect(links).toHaveLength(1)
      const anonymous = await db
        .selectFrom('mortar_analytics_event')
        .select('anonymous_id')
        .where('name', '=', 'product_viewed')
        .where('user_id', 'is', null)
        .where('anonymous_id', '=', links[0]!.anonymous_id)
        .execute()
      expect(anonymous).toHaveLength(1)
    })

    it('forgets only the user it names: not ids that differ in case, accents or trailing spaces, nor users who share its anonymous id', async () => {
      const { analytics, app, db } = subject
      const ids = ['u-9', 'u-9 ', 'U-9', 'ú-9', 'u-9  ']
      // One browser, its cookie first linked to u-9: forgetting u-9 suppresses it for good.
      const browser = { ip: '198.51.100.90', userAgent: 'Shared/1.0' }
      for (const id of ids) {
        inRequest(app, { ...browser, principal: { id } }, () => {
          analytics.identify(id, { plan: 'pro' }, { anonymousId: 'c-shared' })
          analytics.track('product_viewed', { productId: 'p-9' })
        })
      }
      await analytics.flush()
      // Read every row and compare in JS: the database's own `=` is what is under test.
      const users = async (table: 'mortar_analytics_event' | 'mortar_analytics_identity') =>
        [...new Set((await db.selectFrom(table).select('user_id').execute()).map((r) => r.user_id))]
          .filter((id) => id !== null && ids.includes(id))
          .sort()
      const links = await users('mortar_analytics_identity')
      const report = await analytics.forgetUser('u-9')
      // Its identify and its view; the others share its anonymous id (one address, one browser).
      expect(report.events).toBe(2)
      expect(await users('mortar_analytics_event')).toEqual(ids.filter((id) => id !== 'u-9').sort())
      expect(await users('mortar_analytics_identity')).toEqual(links.filter((id) => id !== 'u-9'))
    })

    it('records an event tracked in a transaction only when it commits', async () => {
      const { analytics, app } = subject
      await expect(
        transaction(async () => {
          analytics.track('product_viewed', { productId: 'rolled-back' })
          await analytics.trackNow('product_viewed', { productId: 'rolled-back-now' })
          throw new Error('checkout failed')
        }),
      ).rejects.toThrow('checkout failed')
      await transaction(async () => {
        inRequest(app, {}, () => analytics.track('product_viewed', { productId: 'committed' }))
        await analytics.trackNow('product_viewed', { productId: 'committed-now' })
      })
      await analytics.flush()
      const products = (await rows())
        .map((row) => {
          const properties =
            typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties
          return properties.productId as string | undefined
        })
        .filter((id) => id?.includes('commit') || id?.includes('rolled'))
      expect(products.sort()).toEqual(['committed', 'committed-now'])
    })

    it('returns the page view id and records the path without its query', async () => {
      const { analytics, app, db } = subject
      const id = inRequest(app, { url: '/products/p-9?ref=mail' }, () =>
        analytics.page({ title: 'Tea' }),
      )
      await analytics.flush()
      const row = await db
        .selectFrom('mortar_analytics_event')
        .select(['name', 'properties'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
      const properties =
        typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties
      expect(row.name).toBe('$page')
      expect(properties).toEqual({ path: '/products/p-9', title: 'Tea' })
    })

    it('stores no query or fragment of the request, in the path or the referrer', async () => {
      const { analytics, app, db } = subject
      // The page before may hold a reset token, a search or an email in its query.
      const id = inRequest(
        app,
        {
          url: '/store/account?email=ada%40example.com',
          headers: { referer: 'https://shop.example/store/reset?token=s3cret#step-2' },
        },
        () => analytics.page(),
      )
      await analytics.flush()
      const row = await db
        .selectFrom('mortar_analytics_event')
        .select('properties')
        .where('id', '=', id)
        .executeTakeFirstOrThrow()
      const properties =
        typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties
      expect(properties).toEqual({
        path: '/store/account',
        referrer: 'https://shop.example/store/reset',
      })
    })

    it('records a page view whatever the length of its URL, referrer and title', async () => {
      const { analytics, app, db } = subject
      // What the request brings is not the app's to bound: a same-site referrer holds the whole
      // URL of the page before.
      const long = (n: number) => 'x'.repeat(n)
      const id = inRequest(
        app,
        {
          url: `/${long(3_000)}?q=1`,
          headers: { referer: `https://shop.example/${long(3_000)}` },
        },
        () => analytics.page({ title: `${long(499)}${'😀'.repeat(50)}` }),
      )
      await analytics.flush()
      const row = await db
        .selectFrom('mortar_analytics_event')
        .select('properties')
        .where('id', '=', id)
        .executeTakeFirst()
      expect(row).toBeDefined()
      const properties = (
        typeof row!.properties === 'string' ? JSON.parse(row!.properties) : row!.properties
      ) as { path: string; referrer: string; title: string }
      expect(properties.path).toBe(`/${long(1_999)}`)
      expect(properties.referrer).toBe(`https://shop.example/${long(2_000 - 21)}`)
      // Never through a surrogate pair: half of one would fail the view in its turn.
      expect(properties.title).toBe(long(499))
    })

    it('keeps an event past the retention until the rollup counted it', async () => {
      // The retention deleted the raw events of batches not rolled up yet: an event tracked with
      // an old timestamp (an import) or written while the rollups were behind never reached the
      // daily totals, which are all that stays of it.
      const { analytics, db } = subject
      const at = Date.parse('2023-06-01T12:00:00Z')
      analytics.track('product_viewed', { productId: 'imported' }, { timestamp: at })
      await analytics.flush()
      await analytics.applyRetention()
      await analytics.rollup()
      expect(await viewsOn('2023-06-01')).toEqual([1])
      // Counted: the next retention deletes it.
      await analytics.applyRetention()
      const left = await db
        .selectFrom('mortar_analytics_event')
        .select('id')
        .where('occurred_at', '=', at)
        .execute()
      expect(left).toEqual([])
      expect(await viewsOn('2023-06-01')).toEqual([1])
    })

    if (engine.engine === 'mysql')
      it('lets batches be written while the retention deletes', async () => {
        // The purge's DELETE looked the batch log up itself: on repeatable read it share-locked
        // what it probed, here the gap past the log's last row, and batch writes waited on it.
        const { db } = subject
        // On another connection, as a batch write, failing after a second's wait.
        const log = (id: number) =>
          sql`set statement innodb_lock_wait_timeout = 1 for insert into mortar_analytics_batch (batch_id, first_at, last_at, events, created_at) values (${id}, 0, 0, 0, 0)`.execute(
            db,
          )
        // An event of batch 2, rolled up long ago, and batch 1, not rolled up yet.
        await sql`insert into mortar_analytics_event (occurred_at, id, batch_id, name, properties) values (${Date.parse('2023-07-01T12:00:00Z')}, '0188f4a0-0000-7000-8000-000000000000', 2, 'product_viewed', '{}')`.execute(
          db,
        )
        await log(1)
        await db.transaction().execute(async (trx) => {
          const scope = {
            db: trx as unknown as Kysely<unknown>,
            engine: 'mysql',
            timeZone: 'UTC',
          } as const
          expect(await purgeEventsBefore(scope, Date.parse('2024-01-01T00:00:00Z'))).toBe(1)
          await log(3)
        })
        await db.deleteFrom('mortar_analytics_batch').where('batch_id', 'in', [1, 3]).execute()
      })

    it('rolls up on its schedule and applies the retention daily', async () => {
      const { analytics, app, clock, db } = subject
      analytics.track('product_viewed', { productId: 'scheduled' })
      analytics.track(
        'product_viewed',
        { productId: 'ancient' },
        { timestamp: Date.parse('2024-01-01T00:00:00Z') },
      )
      await analytics.flush()
      expect(
        await db.selectFrom('mortar_analytics_batch').select('batch_id').execute(),
      ).not.toEqual([])
      clock.advance(60_000)
      await app.resolve(JOBS).drain()
      expect(await db.selectFrom('mortar_analytics_batch').select('batch_id').execute()).toEqual([])
      expect(await viewsOn('2024-01-01')).toEqual([1])
      clock.set('2026-03-03T03:20:00Z')
      await app.resolve(JOBS).drain()
      const old = await db
        .selectFrom('mortar_analytics_event')
        .select('id')
        .where('occurred_at', '<', Date.parse('2025-01-01T00:00:00Z'))
        .execute()
      expect(old).toEqual([])
    })
  })
}
