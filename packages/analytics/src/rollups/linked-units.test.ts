import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  viewed: z.object({ productId: z.string() }),
  ordered: z.object({ productIds: z.array(z.string()) }),
})
const recommendations = {
  viewed: { event: 'viewed', item: 'productId' },
  bought: { event: 'ordered', items: 'productIds' },
} as const
const HOUR = 3_600_000
// The engine app's clock reads 2026-03-02T10:00Z: every event is well within the retention.
const AT = Date.UTC(2026, 2, 1, 9)
const ITEMS = ['p1', 'p2', 'p3', 'P1'] as const

/** The unit rows, as `kind actor unit item` lines. */
async function unitRows(subject: EngineApp<typeof events>): Promise<string[]> {
  const rows = await subject.db.selectFrom('mortar_analytics_unit_item').selectAll().execute()
  return rows.map((r) => `${r.kind} ${r.actor} ${r.unit} ${r.item}`).sort()
}

/** Item audiences and pair counts as `kind item` / `kind item other` lines with their counts. */
async function counts(subject: EngineApp<typeof events>): Promise<string[]> {
  const items = await subject.db.selectFrom('mortar_analytics_item').selectAll().execute()
  const pairs = await subject.db.selectFrom('mortar_analytics_pair').selectAll().execute()
  return [
    ...items.map((r) => `${r.kind} ${r.item} ${Number(r.units)}`),
    ...pairs.map((r) => `${r.kind} ${r.item} ${r.other} ${Number(r.count)}`),
  ].sort()
}

/**
 * The unit rows and counts a fold of every stored event gives, each event the person's that
 * the stored links say now: its user, else the user its anonymous id is linked to, else the
 * anonymous id.
 */
async function rebuilt(subject: EngineApp<typeof events>): Promise<[string[], string[]]> {
  const links = new Map(
    (await subject.db.selectFrom('mortar_analytics_identity').selectAll().execute()).map((r) => [
      r.anonymous_id,
      r.user_id,
    ]),
  )
  const stored = await subject.db
    .selectFrom('mortar_analytics_event')
    .select(['name', 'user_id', 'anonymous_id', 'occurred_at', 'properties'])
    .where('name', 'in', ['viewed', 'ordered'])
    .execute()
  const units = new Map<string, Set<string>>()
  for (const row of stored) {
    const properties = (
      typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties
    ) as { productId?: string; productIds?: string[] }
    const user = row.user_id ?? links.get(row.anonymous_id ?? '')
    const actor = user !== undefined ? `u${user}` : `a${row.anonymous_id}`
    const kind = row.name === 'viewed' ? 'viewed' : 'bought'
    const unit =
      kind === 'viewed' ? new Date(Number(row.occurred_at)).toISOString().slice(0, 10) : ''
    const id = `${kind} ${actor} ${unit}`
    const set = units.get(id) ?? new Set<string>()
    units.set(id, set)
    for (const item of properties.productIds ?? [properties.productId as string]) set.add(item)
  }
  const rows: string[] = []
  const tally = new Map<string, number>()
  const add = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1)
  for (const [id, set] of units) {
    const kind = id.split(' ')[0]
    for (const item of set) {
      rows.push(`${id} ${item}`)
      add(`${kind} ${item}`)
      for (const other of set) if (other !== item) add(`${kind} ${item} ${other}`)
    }
  }
  return [rows.sort(), [...tally].map(([key, n]) => `${key} ${n}`).sort()]
}

function start(engine: Parameters<typeof startEngineApp>[0]) {
  return startEngineApp(engine, { events, timeZone: 'UTC', recommendations })
}

// Visitors: 'v1', 'v2', and 'vu1' whose own anonymous id is the text of the user u1's id.
const visitor = fc.constantFrom('v1', 'v2', 'vu1')
const user = fc.constantFrom('u1', 'u2')
const at = fc.integer({ min: 0, max: 40 * HOUR })
const step = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('viewed' as const),
      who: fc.oneof(visitor, user),
      item: fc.constantFrom(...ITEMS),
      at,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('ordered' as const),
      who: fc.oneof(visitor, user),
      items: fc.array(fc.constantFrom(...ITEMS), { maxLength: 3 }),
      at,
    }),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('link' as const), visitor, user, at }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('rollup' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ type: fc.constantFrom('flush' as const, 'retention' as const) }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('forget' as const), user }) },
)

for (const engine of testEngines()) {
  // Not registered only when this engine's MORTAR_TEST_*_URL variable is unset; .ci/run sets all three.
  if (engine.skip !== undefined) {
    console.info(`[not run] units of linked visitors, ${engine.title}: ${engine.skip}`)
    continue
  }
  describe(`units of linked visitors, ${engine.title}`, () => {
    describe('one case', () => {
      let subject: EngineApp<typeof events> | undefined
      afterEach(async () => {
        await subject?.close()
        subject = undefined
      })

      it("keeps what a visitor bought before signing in through retention, as the user's purchase", async () => {
        subject = await start(engine)
        const { analytics } = subject
        analytics.track('ordered', { productIds: ['p1'] }, { anonymousId: 'v1', timestamp: AT })
        await analytics.flush()
        await analytics.rollup()
        await analytics.applyRetention()
        // The visitor signs in as alice, who then buys p2.
        analytics.identify('alice', undefined, { anonymousId: 'v1', timestamp: AT + 1 })
        analytics.track('ordered', { productIds: ['p2'] }, { userId: 'alice', timestamp: AT + 2 })
        await analytics.flush()
        await analytics.applyRetention()
        // Retention before the next rollup: the visitor's purchase is alice's now, and kept.
        expect(await unitRows(subject)).toEqual(['bought ualice  p1'])
        await analytics.rollup()
        await analytics.applyRetention()

        expect(await unitRows(subject)).toEqual(['bought ualice  p1', 'bought ualice  p2'])
        expect(await counts(subject)).toEqual((await rebuilt(subject))[1])
        const read = await analytics.alsoBought('p1', { minSupport: 1 })
        expect(read.map((r) => [r.item, r.together])).toEqual([['p2', 1]])
        expect(
          await analytics.alsoBought('p1', { minSupport: 1, excludeBoughtBy: 'alice' }),
        ).toEqual([])
      })
      it('moves no unit to a forgotten user through a link a late write stored', async () => {
        subject = await start(engine)
        const { analytics } = subject
        analytics.track('ordered', { productIds: ['p1'] }, { userId: 'alice', timestamp: AT })
        analytics.track('ordered', { productIds: ['p2'] }, { anonymousId: 'v9', timestamp: AT })
        await analytics.flush()
        await analytics.rollup()
        await analytics.forgetUser('alice')
        // A process that had not learnt of the erasure wrote alice's identify from v9's device.
        await subject.db
          .insertInto('mortar_analytics_identity')
          .values({ anonymous_id: 'v9', user_id: 'alice', linked_at: AT + 1 })
          .execute()
        await analytics.applyRetention()
        expect(await unitRows(subject)).toEqual(['bought av9  p2'])
      })
    })

    describe('any sequence', () => {
      let subject: EngineApp<typeof events>
      let runs = 0
      beforeAll(async () => {
        subject = await start(engine)
      })
      afterAll(() => subject?.close())

      it('unit rows, audiences and pairs equal a fold of the stored events under the links stored now, whatever the order of events, links, rollups, retention and forgetUser', async () => {
        await fc.assert(
          fc.asyncProperty(fc.array(step, { minLength: 4, maxLength: 24 }), async (steps) => {
            // Ids are new in each run: a forgotten one stays suppressed.
            runs++
            const id = (who: string) => (who === 'vu1' ? `u1.${runs}` : `${who}.${runs}`)
            const as = (who: string) =>
              who.startsWith('v') ? { anonymousId: id(who) } : { userId: id(who) }
            const { analytics } = subject
            for (const s of steps) {
              if (s.type === 'viewed') {
                analytics.track(
                  'viewed',
                  { productId: s.item },
                  { ...as(s.who), timestamp: AT + s.at },
                )
              } else if (s.type === 'ordered') {
                analytics.track(
                  'ordered',
                  { productIds: s.items },
                  { ...as(s.who), timestamp: AT + s.at },
                )
              } else if (s.type === 'link') {
                analytics.identify(id(s.user), undefined, {
                  anonymousId: id(s.visitor),
                  timestamp: AT + s.at,
                })
              } else if (s.type === 'flush') {
                await analytics.flush()
              } else if (s.type === 'rollup') {
                await analytics.flush()
                await analytics.rollup()
              } else if (s.type === 'retention') {
                await analytics.applyRetention()
              } else if (s.type === 'forget') {
                await analytics.forgetUser(id(s.user))
              }
            }
            await analytics.flush()
            await analytics.rollup()
            await analytics.applyRetention()
            const [rows, tally] = await rebuilt(subject)
            expect(await unitRows(subject)).toEqual(rows)
            expect(await counts(subject)).toEqual(tally)
          }),
          { numRuns: 25 },
        )
      }, 240_000)
    })
  })
}
