import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'
import { rowCountingScope } from '../testing/row-counting-queries.js'
import { Recommendations } from './recommendations.js'

const events = defineEvents({
  ordered: z.object({ productIds: z.array(z.string()) }),
})

// 'hub' is bought with 120 other items, each by two people: more pairs than an item's ranked
// list keeps (100). Item i is also bought alone by i % 7 more people, so a larger i % 7 ranks
// lower (same count, larger audience), ties by name.
const OTHERS = Array.from({ length: 120 }, (_, i) => `o${String(i).padStart(3, '0')}`)
const extra = (i: number) => i % 7
const RANKED = OTHERS.map((item, i) => ({ item, extra: extra(i) }))
  .sort((a, b) => a.extra - b.extra || (a.item < b.item ? -1 : 1))
  .map((row) => row.item)

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `alsoBought past the ranked list, ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>

      beforeAll(async () => {
        subject = await startEngineApp(engine, {
          events,
          recommendations: { bought: { event: 'ordered', items: 'productIds' } },
        })
        const at = Date.UTC(2026, 2, 1)
        for (const [i, item] of OTHERS.entries()) {
          for (const buyer of ['a', 'b']) {
            subject.analytics.track(
              'ordered',
              { productIds: ['hub', item] },
              { userId: `${item}-${buyer}`, timestamp: at + i },
            )
          }
          for (let n = 0; n < extra(i); n++) {
            subject.analytics.track(
              'ordered',
              { productIds: [item] },
              { userId: `${item}-alone-${n}`, timestamp: at + i },
            )
          }
        }
        await subject.analytics.flush()
        await subject.analytics.rollup()
      })
      afterAll(() => subject?.close())

      it('keeps the best 100 others in the list and answers from it', async () => {
        const listed = await subject.db
          .selectFrom('mortar_analytics_also')
          .select('other')
          .where('kind', '=', 'bought')
          .where('item', '=', 'hub')
          .orderBy('place')
          .execute()
        expect(listed.map((row) => row.other)).toEqual(RANKED.slice(0, 100))
        const read = await subject.analytics.alsoBought('hub', { limit: 10 })
        expect(read.map((r) => r.item)).toEqual(RANKED.slice(0, 10))
      })

      it('ranks all pairs when exclusions leave too few of the listed ones', async () => {
        const read = await subject.analytics.alsoBought('hub', {
          limit: 10,
          exclude: RANKED.slice(0, 95),
        })
        expect(read.map((r) => r.item)).toEqual(RANKED.slice(95, 105))
        expect(read.every((r) => r.together === 2)).toBe(true)
      })
    },
  )
}

// 'hub' is bought with 30 others, each by two people. A shopper bought 27 of them on nine devices
// linked to their user id (three items each) and one more signed in.
const PAIRED = Array.from({ length: 30 }, (_, i) => `p${String(i).padStart(2, '0')}`)

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`alsoBought excludeBoughtBy, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, {
        events,
        recommendations: { bought: { event: 'ordered', items: 'productIds' } },
      })
      const { analytics } = subject
      const at = Date.UTC(2026, 2, 1)
      for (const [i, item] of PAIRED.entries()) {
        for (const buyer of ['a', 'b']) {
          analytics.track(
            'ordered',
            { productIds: ['hub', item] },
            { userId: `${item}-${buyer}`, timestamp: at + i },
          )
        }
      }
      for (let device = 0; device < 9; device++) {
        const anonymousId = `device-${device}`
        analytics.identify('shopper', {}, { anonymousId, timestamp: at })
        analytics.track(
          'ordered',
          { productIds: PAIRED.slice(device * 3, device * 3 + 3) },
          { anonymousId, timestamp: at + 100 + device },
        )
      }
      analytics.track(
        'ordered',
        { productIds: [PAIRED[27] as string] },
        { userId: 'shopper', timestamp: at + 200 },
      )
      await analytics.flush()
      await analytics.rollup()
    })
    afterAll(() => subject?.close())

    // What the shopper bought is looked up in the statement: reading it first returned 28 rows,
    // as many as their devices bought, however small the answer.
    it('leaves out what the user bought on every linked device without reading it', async () => {
      const { scope, returned } = rowCountingScope(subject, engine)
      const recommendations = new Recommendations(scope)
      for (const minSupport of [1, 2]) {
        const before = returned.length
        const read = await recommendations.recommend('bought', 'hub', {
          limit: 5,
          minSupport,
          excludeBoughtBy: 'shopper',
        })
        expect(read.map((r) => r.item)).toEqual(['p28', 'p29'])
        expect(Math.max(...returned.slice(before))).toBeLessThanOrEqual(5)
      }
      const all = await subject.analytics.alsoBought('hub', { limit: 50 })
      // Theirs have an audience of 3, the two others of 2: ranked first by cosine similarity.
      expect(all.map((r) => r.item)).toEqual(['p28', 'p29', ...PAIRED.slice(0, 28)])
    })
  })
}
