import { testEngines } from '@mortar/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  viewed: z.object({ productId: z.string() }),
  ordered: z.object({ productIds: z.array(z.string()) }),
})
const AT = Date.UTC(2026, 2, 2, 9)

function start(engine: Parameters<typeof startEngineApp>[0]) {
  return startEngineApp(engine, {
    events,
    timeZone: 'UTC',
    recommendations: {
      viewed: { event: 'viewed', item: 'productId' },
      bought: { event: 'ordered', items: 'productIds' },
    },
  })
}

/** The unit rows, as `kind actor unit item` lines. */
async function unitRows(subject: EngineApp<typeof events>): Promise<string[]> {
  const rows = await subject.db.selectFrom('mortar_analytics_unit_item').selectAll().execute()
  return rows.map((r) => `${r.kind} ${r.actor} ${r.unit} ${r.item}`).sort()
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`units per person, ${engine.title}`, () => {
    let subject: EngineApp<typeof events> | undefined
    afterEach(async () => {
      await subject?.close()
      subject = undefined
    })

    it('keeps a user and an anonymous visitor of the same id text apart in also-bought and also-viewed', async () => {
      subject = await start(engine)
      const { analytics } = subject
      // The user 'bob' and a visitor whose own cookie is 'bob', linked to no one.
      analytics.track('ordered', { productIds: ['p1'] }, { userId: 'bob', timestamp: AT })
      analytics.track('ordered', { productIds: ['p2'] }, { anonymousId: 'bob', timestamp: AT + 1 })
      analytics.track('viewed', { productId: 'v1' }, { userId: 'bob', timestamp: AT + 2 })
      analytics.track('viewed', { productId: 'v2' }, { anonymousId: 'bob', timestamp: AT + 3 })
      // An id of 255 characters, the most a column holds, keys a person too.
      const long = 'x'.repeat(255)
      analytics.track('ordered', { productIds: ['p4', 'p5'] }, { userId: long, timestamp: AT })
      analytics.track('ordered', { productIds: ['p4'] }, { anonymousId: long, timestamp: AT })
      for (const [i, other] of ['p2', 'p2', 'p1', 'p1'].entries()) {
        analytics.track(
          'ordered',
          { productIds: ['p3', other] },
          { userId: `c${i}`, timestamp: AT },
        )
      }
      await analytics.flush()
      await analytics.rollup()

      expect((await analytics.alsoBought('p1', { minSupport: 1 })).map((r) => r.item)).toEqual([
        'p3',
      ])
      expect(await analytics.alsoViewed('v1', { minSupport: 1 })).toEqual([])
      expect((await analytics.alsoBought('p4', { minSupport: 1 })).map((r) => r.together)).toEqual([
        1,
      ])
      // What the visitor 'bob' bought is not what the user 'bob' bought.
      expect(
        (await analytics.alsoBought('p3', { excludeBoughtBy: 'bob' })).map((r) => r.item),
      ).toEqual(['p2'])

      await analytics.forgetUser('bob')
      expect((await unitRows(subject)).filter((row) => row.includes('bob'))).toEqual([
        'bought abob  p2',
        `viewed abob 2026-03-02 v2`,
      ])
    })

    it('links an anonymous id of the same text to the user it identifies as, and forgets both', async () => {
      subject = await start(engine)
      const { analytics } = subject
      analytics.track(
        'ordered',
        { productIds: ['p1', 'p2'] },
        { anonymousId: 'bob', timestamp: AT },
      )
      analytics.identify('bob', undefined, { anonymousId: 'bob', timestamp: AT + 1 })
      analytics.track('ordered', { productIds: ['p3'] }, { userId: 'bob', timestamp: AT + 2 })
      await analytics.flush()
      await analytics.rollup()
      const range = { from: new Date(AT), to: new Date(AT + 3) }
      expect(await analytics.uniques(['ordered'], range)).toBe(1)
      expect(await unitRows(subject)).toEqual([
        'bought ubob  p1',
        'bought ubob  p2',
        'bought ubob  p3',
      ])
      const report = await analytics.forgetUser('bob')
      expect(report.events).toBe(3)
      expect(await unitRows(subject)).toEqual([])
    })

    it('forgetUser of a user keeps the units of another user whose id text is an anonymous id linked to them', async () => {
      subject = await start(engine)
      const { analytics } = subject
      // The user 'bob' and another user 'carol' buy p1 and p2; 'alice' takes over the
      // anonymous id 'bob' (an old cookie whose text is another user's id).
      for (const user of ['bob', 'carol']) {
        analytics.track('ordered', { productIds: ['p1', 'p2'] }, { userId: user, timestamp: AT })
      }
      await analytics.flush()
      await analytics.rollup()
      await analytics.alias('bob', 'alice', { timestamp: AT + 1 })
      await analytics.flush()
      await analytics.rollup()

      await analytics.forgetUser('alice')
      expect(await unitRows(subject)).toEqual([
        'bought ubob  p1',
        'bought ubob  p2',
        'bought ucarol  p1',
        'bought ucarol  p2',
      ])
      const read = await analytics.alsoBought('p1')
      expect(read.map((r) => [r.item, r.together])).toEqual([['p2', 2]])
    })
  })
}
