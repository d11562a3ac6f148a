import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'
import { localDay } from '../time/zoned-time.js'

const events = defineEvents({
  viewed: z.object({ productId: z.string() }),
  ordered: z.object({ productIds: z.array(z.string()) }),
})

const HOUR = 3_600_000
// Paris moves to summer time at 01:00 UTC on 29 March 2026: the views' local days span it.
const START = Date.UTC(2026, 2, 28, 12)
const TIME_ZONE = 'Europe/Paris'
const ITEMS = ['p1', 'p2', 'p3', 'P1', 'p4'] as const

const at = fc.integer({ min: 0, max: 60 * HOUR })
// 'a-u1' is a visitor whose own anonymous id is the text of the user u1's id: another person.
const who = fc.constantFrom('u1', 'u2', 'u3', 'a1', 'a-u1')
const arbitraryEvent = fc.oneof(
  fc.record({
    name: fc.constant('viewed' as const),
    properties: fc.record({ productId: fc.constantFrom(...ITEMS) }),
    who,
    at,
  }),
  fc.record({
    name: fc.constant('ordered' as const),
    properties: fc.record({ productIds: fc.array(fc.constantFrom(...ITEMS), { maxLength: 3 }) }),
    who,
    at,
  }),
)

type Counts = Map<string, number>

/** Item audiences and pair counts computed from every stored event, as the rollups define them. */
function expected(
  rows: readonly {
    name: string
    user_id: string | null
    anonymous_id: string | null
    occurred_at: unknown
    properties: unknown
  }[],
): { items: Counts; pairs: Counts } {
  const units = new Map<string, Set<string>>()
  for (const row of rows) {
    const properties = (
      typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties
    ) as { productId?: string; productIds?: string[] }
    const actor = row.user_id !== null ? `user ${row.user_id}` : `visitor ${row.anonymous_id}`
    const kind = row.name === 'viewed' ? 'viewed' : 'bought'
    const unit = kind === 'viewed' ? localDay(Number(row.occurred_at), TIME_ZONE) : ''
    const id = `${kind}\0${actor}\0${unit}`
    const set = units.get(id) ?? new Set<string>()
    units.set(id, set)
    for (const item of properties.productIds ?? [properties.productId as string]) set.add(item)
  }
  const items: Counts = new Map()
  const pairs: Counts = new Map()
  const add = (map: Counts, key: string) => map.set(key, (map.get(key) ?? 0) + 1)
  for (const [id, set] of units) {
    const kind = id.split('\0')[0]
    for (const item of set) {
      add(items, `${kind} ${item}`)
      for (const other of set) if (other !== item) add(pairs, `${kind} ${item} ${other}`)
    }
  }
  return { items, pairs }
}

const sorted = (map: Counts) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

interface Ranked {
  readonly item: string
  readonly together: number
  readonly units: number
}

/**
 * The other items of `item` with at least `minSupport` shared units, best first: by cosine,
 * compared exactly (together² / audience, cross-multiplied: comparing the cosines as floats
 * misorders rational ties such as 2/√(2n) and 4/√(8n)), then by count, then by name.
 */
function ranking(
  want: { items: Counts; pairs: Counts },
  kind: string,
  item: string,
  minSupport: number,
): Ranked[] {
  return ITEMS.filter((other) => other !== item)
    .map((other) => ({
      item: other,
      together: want.pairs.get(`${kind} ${item} ${other}`) ?? 0,
      units: want.items.get(`${kind} ${other}`) ?? 0,
    }))
    .filter((row) => row.together >= minSupport)
    .sort(
      (a, b) =>
        b.together * b.together * a.units - a.together * a.together * b.units ||
        b.together - a.together ||
        (a.item < b.item ? -1 : 1),
    )
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `co-occurrence rollups and recommendations equal the raw events, ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>
      let runs = 0

      beforeAll(async () => {
        subject = await startEngineApp(engine, {
          events,
          timeZone: TIME_ZONE,
          recommendations: {
            viewed: { event: 'viewed', item: 'productId' },
            bought: { event: 'ordered', items: 'productIds' },
          },
        })
      })
      afterAll(() => subject?.close())

      it('item audiences, pair counts, ranked lists and the ranking of alsoViewed / alsoBought, folded in over several runs and forgetUser calls, match every stored event', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.array(
              fc.record({
                events: fc.array(arbitraryEvent, { maxLength: 25 }),
                // forgetUser takes the user's units back and rebuilds the lists they were in.
                forget: fc.option(fc.constantFrom('u1', 'u2', 'u3'), { freq: 3 }),
              }),
              { minLength: 1, maxLength: 3 },
            ),
            async (chunks) => {
              // Users are new in each run, so one forgotten (and suppressed) stays out of later runs only.
              runs++
              const user = (who: string) => `${who}.${runs}`
              for (const chunk of chunks) {
                for (const event of chunk.events) {
                  const id =
                    event.who === 'a1'
                      ? { anonymousId: event.who }
                      : event.who === 'a-u1'
                        ? { anonymousId: user('u1') }
                        : { userId: user(event.who) }
                  subject.analytics.track(event.name, event.properties as never, {
                    ...id,
                    timestamp: START + event.at,
                  })
                }
                await subject.analytics.flush()
                await subject.analytics.rollup()
                if (chunk.forget !== null) await subject.analytics.forgetUser(user(chunk.forget))
              }
              const rows = await subject.db
                .selectFrom('mortar_analytics_event')
                .select(['name', 'user_id', 'anonymous_id', 'occurred_at', 'properties'])
                .execute()
              const want = expected(rows)
              const items = await subject.db
                .selectFrom('mortar_analytics_item')
                .selectAll()
                .execute()
              const pairs = await subject.db
                .selectFrom('mortar_analytics_pair')
                .selectAll()
                .execute()
              expect(
                sorted(new Map(items.map((r) => [`${r.kind} ${r.item}`, Number(r.units)]))),
              ).toEqual(sorted(want.items))
              expect(
                sorted(
                  new Map(pairs.map((r) => [`${r.kind} ${r.item} ${r.other}`, Number(r.count)])),
                ),
              ).toEqual(sorted(want.pairs))
              // The ranked lists the recommendations read hold exactly the best pairs of 2 or more.
              const lists = await subject.db
                .selectFrom('mortar_analytics_also')
                .selectAll()
                .orderBy('kind')
                .orderBy('item')
                .orderBy('place')
                .execute()
              const wantLists: string[] = []
              for (const kind of ['viewed', 'bought'] as const) {
                for (const item of ITEMS) {
                  for (const [i, r] of ranking(want, kind, item, 2).entries()) {
                    wantLists.push(`${kind} ${item} ${i + 1} ${r.item} ${r.together} ${r.units}`)
                  }
                }
              }
              expect(
                lists
                  .map(
                    (r) =>
                      `${r.kind} ${r.item} ${Number(r.place)} ${r.other} ${Number(r.together)} ${Number(r.units)}`,
                  )
                  .sort(),
              ).toEqual(wantLists.sort())
              // And the recommendations read from them rank as the cosine over those counts,
              // from the lists (support 2, an exclusion) and from all pairs (support 1).
              for (const kind of ['viewed', 'bought'] as const) {
                for (const item of ITEMS) {
                  const own = want.items.get(`${kind} ${item}`) ?? 0
                  for (const { minSupport, exclude } of [
                    { minSupport: 2, exclude: [] },
                    { minSupport: 3, exclude: ['p2'] },
                    { minSupport: 1, exclude: [] },
                  ]) {
                    const ranked = ranking(want, kind, item, minSupport)
                      .filter((row) => !exclude.includes(row.item))
                      .slice(0, 3)
                    const options = { limit: 3, minSupport, exclude }
                    const read =
                      kind === 'viewed'
                        ? await subject.analytics.alsoViewed(item, options)
                        : await subject.analytics.alsoBought(item, options)
                    expect(read.map((r) => [r.item, r.together])).toEqual(
                      ranked.map((r) => [r.item, r.together]),
                    )
                    for (const [i, r] of read.entries()) {
                      const expected = ranked[i] as Ranked
                      expect(r.score).toBeCloseTo(
                        expected.together / Math.sqrt(own * expected.units),
                        12,
                      )
                    }
                  }
                }
              }
            },
          ),
          { numRuns: 10 },
        )
      }, 120_000)
    },
  )
}
