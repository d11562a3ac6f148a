import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp, tablesHoldingUser } from '../testing/engine-app.js'
import { userKey } from './person-key.js'

// A fixed shop history with hand-computed answers. Times are UTC; the module counts days in
// Europe/Paris (UTC+1 in early March 2026), so 22:30Z on 2 March is still 2 March there and
// 23:30Z is already 3 March.
const events = defineEvents({
  product_searched: z.object({ query: z.string() }),
  product_viewed: z.object({ productId: z.string() }),
  cart_added: z.object({ productId: z.string() }),
  order_completed: z.object({ orderId: z.string(), productIds: z.array(z.string()) }),
})

const T = (iso: string) => Date.parse(`2026-03-0${iso}Z`)
const PARIS_DAY = (day: number) => new Date(Date.UTC(2026, 2, day - 1, 23))

type Untyped = (name: string, properties: unknown, options?: object) => void

function history(subject: EngineApp<typeof events>): void {
  const { analytics } = subject
  const track = (
    name: keyof typeof events,
    properties: object,
    userId: string | undefined,
    at: string,
    anonymousId?: string,
  ) => (analytics.track as Untyped)(name, properties, { userId, anonymousId, timestamp: T(at) })
  track('product_searched', { query: 'tea' }, 'u1', '2T09:00:00')
  track('product_searched', { query: 'tea' }, 'u2', '2T10:00:00')
  track('product_searched', { query: 'coffee' }, 'u3', '2T22:30:00')
  track('product_searched', { query: 'coffee' }, 'u1', '2T23:30:00')
  track('product_searched', { query: 'mugs' }, undefined, '3T08:00:00', 'a1')
  track('product_searched', { query: 'tea' }, 'u2', '4T12:00:00')

  track('product_viewed', { productId: 'p1' }, 'u1', '2T09:05:00')
  track('cart_added', { productId: 'p1' }, 'u1', '2T09:10:00')
  track('order_completed', { orderId: 'o1', productIds: ['p1', 'p2'] }, 'u1', '2T09:20:00')
  track('product_viewed', { productId: 'p3' }, 'u1', '4T10:00:00')
  track('product_viewed', { productId: 'p1' }, 'u2', '2T10:05:00')
  track('cart_added', { productId: 'p1' }, 'u2', '2T10:06:00')
  track('product_viewed', { productId: 'p2' }, 'u2', '2T10:30:00')
  track('product_viewed', { productId: 'p2' }, 'u3', '2T11:00:00')
  track('product_viewed', { productId: 'p1' }, 'u3', '2T11:30:00')
  track('order_completed', { orderId: 'o3', productIds: ['p2', 'p3'] }, 'u3', '4T11:00:00')
  track('cart_added', { productId: 'p3' }, 'u4', '3T07:00:00')
  track('product_viewed', { productId: 'p3' }, 'u4', '3T07:30:00')
  track('product_viewed', { productId: 'p1' }, 'u5', '2T08:00:00')
  track('product_viewed', { productId: 'p1' }, 'u5', '3T08:00:00')
  track('cart_added', { productId: 'p1' }, 'u5', '3T09:00:00')
  track('order_completed', { orderId: 'o5', productIds: ['p1'] }, 'u5', '3T10:00:00')
  track('product_viewed', { productId: 'p2' }, undefined, '2T12:00:00', 'a2')
  ;(analytics.identify as (id: string, traits: object, options: object) => void)(
    'u6',
    {},
    {
      anonymousId: 'a2',
      timestamp: T('2T12:05:00'),
    },
  )
  track('cart_added', { productId: 'p2' }, 'u6', '2T12:10:00')
  track('order_completed', { orderId: 'o7', productIds: ['p1', 'p2'] }, 'u7', '3T12:00:00')
  track('order_completed', { orderId: 'o8', productIds: ['p2', 'p3'] }, 'u8', '3T12:00:00')
  track('order_completed', { orderId: 'o9', productIds: ['p1', 'p4'] }, 'u9', '3T12:00:00')

  // Page views for dwell: heartbeats every 15 s.
  const page = (path: string, at: string) =>
    analytics.page({ path }, { timestamp: T(at), userId: 'u1' })
  const beat = (view: string, seq: number, at: string) =>
    (analytics.track as Untyped)(
      '$heartbeat',
      { pageViewId: view, seq },
      { userId: 'u1', timestamp: T(at) },
    )
  const leave = (view: string, at: string) =>
    (analytics.track as Untyped)(
      '$page_leave',
      { pageViewId: view },
      { userId: 'u1', timestamp: T(at) },
    )
  const pv1 = page('/products/p1', '2T14:00:00')
  beat(pv1, 1, '2T14:00:15')
  beat(pv1, 2, '2T14:00:30')
  beat(pv1, 2, '2T14:00:31')
  beat(pv1, 3, '2T14:00:45')
  leave(pv1, '2T14:00:50')
  const pv2 = page('/products/p1', '2T15:00:00')
  leave(pv2, '2T15:00:08')
  page('/', '2T16:00:00')
  const pv4 = page('/', '2T17:00:00')
  beat(pv4, 1, '2T17:00:15')
  leave(pv4, '2T17:00:55')
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`queries on a fixed history, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>
    const range = { from: PARIS_DAY(2), to: PARIS_DAY(5) }

    beforeAll(async () => {
      subject = await startEngineApp(engine, {
        events,
        timeZone: 'Europe/Paris',
        counts: { product_searched: ['query'], product_viewed: ['productId'] },
        recommendations: {
          viewed: { event: 'product_viewed', item: 'productId' },
          bought: { event: 'order_completed', items: 'productIds' },
        },
      })
      history(subject)
      await subject.analytics.flush()
    })
    afterAll(() => subject?.close())

    const answers = async () => {
      const { analytics } = subject
      return {
        top: await analytics.top('product_searched', 'query', range),
        series: await analytics.series('product_searched', range),
        p1Views: await analytics.series('product_viewed', { ...range, where: { productId: 'p1' } }),
      }
    }

    it('counts searches per Paris day and ranks them, before and after the rollup alike', async () => {
      const before = await answers()
      expect(before.top).toEqual([
        { value: 'tea', count: 3 },
        { value: 'coffee', count: 2 },
        { value: 'mugs', count: 1 },
      ])
      expect(before.series.map((p) => p.count)).toEqual([3, 2, 1])
      expect(before.series[0]!.start).toEqual(PARIS_DAY(2))
      expect(before.p1Views.map((p) => p.count)).toEqual([4, 1, 0])
      const report = await subject.analytics.rollup()
      expect(report.events).toBeGreaterThan(30)
      expect(await answers()).toEqual(before)
      expect((await subject.analytics.rollup()).batches).toBe(0)
    })

    it('buckets by another time zone and by hour from the events', async () => {
      const { analytics } = subject
      const utc = await analytics.series('product_searched', {
        from: new Date(T('2T00:00:00')),
        to: new Date(T('5T00:00:00')),
        timeZone: 'UTC',
      })
      expect(utc.map((p) => p.count)).toEqual([4, 1, 1])
      const hours = await analytics.series('product_searched', {
        from: new Date(T('2T09:00:00')),
        to: new Date(T('2T12:00:00')),
        interval: 'hour',
        timeZone: 'UTC',
      })
      expect(hours.map((p) => p.count)).toEqual([1, 1, 0])
    })

    it('counts distinct people, stitching an anonymous visitor to the user they became', async () => {
      expect(await subject.analytics.uniques(['product_viewed'], range)).toBe(6)
    })

    it('folds an ordered funnel per person within the window, from the latest first step', async () => {
      const steps = await subject.analytics.funnel(
        [{ event: 'product_viewed' }, { event: 'cart_added' }, { event: 'order_completed' }],
        { ...range, windowMs: 86_400_000 },
      )
      expect(steps.map((s) => s.count)).toEqual([6, 4, 2])
      expect(steps[2]!.conversion).toBeCloseTo(2 / 6)
      const filtered = await subject.analytics.funnel(
        [
          { event: 'product_viewed', where: { productId: 'p2' } },
          { event: 'cart_added', where: { productId: 'p2' } },
        ],
        { ...range, windowMs: 86_400_000 },
      )
      expect(filtered.map((s) => s.count)).toEqual([3, 1])
    })

    it('counts retention by cohort day and return day', async () => {
      const cohorts = await subject.analytics.retention({
        cohort: { event: 'product_viewed' },
        returning: { event: 'product_viewed' },
        from: PARIS_DAY(2),
        to: PARIS_DAY(4),
        period: 'day',
        periods: 2,
      })
      expect(cohorts).toEqual([
        { start: PARIS_DAY(2), size: 5, returned: [5, 1, 1] },
        { start: PARIS_DAY(3), size: 1, returned: [1, 0, 0] },
      ])
    })

    it('measures engaged time from heartbeats with the page-leave fallback', async () => {
      expect(await subject.analytics.dwell(range)).toEqual([
        { path: '/products/p1', views: 2, engagedMs: 58_000, averageMs: 29_000 },
        { path: '/', views: 2, engagedMs: 30_000, averageMs: 15_000 },
      ])
    })

    it('recommends by cosine similarity with minimum support and exclusions', async () => {
      const { analytics } = subject
      await analytics.rollup()
      const p2 = await analytics.alsoBought('p2')
      expect(p2.map((r) => r.item)).toEqual(['p3', 'p1'])
      expect(p2[0]!.score).toBeCloseTo(2 / Math.sqrt(8))
      expect(p2[1]!.score).toBeCloseTo(0.5)
      expect(
        (await analytics.alsoBought('p1', { minSupport: 1 })).map((r) => [r.item, r.together]),
      ).toEqual([
        ['p2', 2],
        ['p4', 1],
      ])
      expect(
        (await analytics.alsoBought('p2', { excludeBoughtBy: 'u3' })).map((r) => r.item),
      ).toEqual(['p1'])
      const viewed = await analytics.alsoViewed('p1')
      expect(viewed.map((r) => r.item)).toEqual(['p2'])
      expect(viewed[0]!.score).toBeCloseTo(2 / Math.sqrt(15))
    })

    it('forgetUser leaves nothing of the user and suppresses their later events', async () => {
      const { analytics, db } = subject
      await analytics.rollup()
      const report = await analytics.forgetUser('u1')
      expect(report.events).toBeGreaterThan(10)
      expect(await tablesHoldingUser(db, 'u1')).toEqual([])
      const units = await db
        .selectFrom('mortar_analytics_unit_item')
        .select('actor')
        .where('actor', '=', userKey('u1'))
        .execute()
      expect(units).toEqual([])
      expect(await analytics.top('product_searched', 'query', range)).toEqual([
        { value: 'tea', count: 2 },
        { value: 'coffee', count: 1 },
        { value: 'mugs', count: 1 },
      ])
      expect((await analytics.alsoBought('p2')).map((r) => r.item)).toEqual(['p3'])
      ;(analytics.track as Untyped)(
        'product_viewed',
        { productId: 'p9' },
        { userId: 'u1', timestamp: T('4T20:00:00') },
      )
      await analytics.flush()
      await analytics.rollup()
      const later = await db
        .selectFrom('mortar_analytics_event')
        .select('id')
        .where('user_id', '=', 'u1')
        .execute()
      expect(later).toEqual([])
      expect(analytics.stats().skipped.suppressed).toBe(1)
    })
  })
}
