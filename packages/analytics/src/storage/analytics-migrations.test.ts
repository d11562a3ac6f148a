import { DATABASE, createApp, defineModule, type ModuleMigrations } from '@mortar/core'
import { createTestApp, privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import type { Kysely } from 'kysely'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ANALYTICS } from '../analytics/analytics.js'
import { analyticsModule } from '../analytics/analytics-module.js'
import { defineEvents } from '../catalog/define-events.js'
import type { PersonKey } from '../queries/person-key.js'
import { SqlEventSink } from '../sinks/sql/sql-event-sink.js'
import { makeBatchId, makeStoredEvent } from '../testing/index.js'
import { analyticsMigrations } from './analytics-migrations.js'
import type { AnalyticsTables } from './analytics-tables.js'

/** The migrations before `name`. */
function before(name: string): ModuleMigrations {
  return Object.fromEntries(Object.entries(analyticsMigrations).filter(([key]) => key < name))
}

async function migrated(url: string, migrations: ModuleMigrations) {
  const app = createApp({
    database: url,
    modules: [defineModule({ name: 'analytics', register() {}, migrations })],
  })
  await app.migrate()
  await app.start()
  return { app, db: app.resolve(DATABASE).kysely as Kysely<AnalyticsTables> }
}

const shop = defineEvents({
  viewed: z.object({ productId: z.string() }),
  ordered: z.object({ productIds: z.array(z.string()) }),
})

/** Pair and audience counts, as `kind item other count` and `kind item units` lines. */
async function cooccurrences(db: Kysely<AnalyticsTables>) {
  const pairs = await db.selectFrom('mortar_analytics_pair').selectAll().execute()
  const items = await db.selectFrom('mortar_analytics_item').selectAll().execute()
  return {
    pairs: pairs.map((r) => `${r.kind} ${r.item} ${r.other} ${Number(r.count)}`).sort(),
    items: items.map((r) => `${r.kind} ${r.item} ${Number(r.units)}`).sort(),
  }
}

async function unitRows(db: Kysely<AnalyticsTables>): Promise<string[]> {
  const rows = await db.selectFrom('mortar_analytics_unit_item').selectAll().execute()
  return rows.map((r) => `${r.kind} ${r.actor} ${r.unit} ${r.item}`).sort()
}

/**
 * A database as 0008's code left it: events of the user 'bob', of a visitor whose cookie is
 * 'bob', of 'carol' and of the visitor 'dave', rolled up into units keyed by bare ids (bob's
 * merged), and a unit of 'ghost', whose events retention deleted.
 */
async function mergedInstall(url: string): Promise<void> {
  const old = await migrated(url, before('0009'))
  const at = Date.UTC(2026, 2, 2, 9)
  const event = (
    who: { userId: string } | { anonymousId: string },
    name: 'viewed' | 'ordered',
    properties: object,
    n: number,
  ) =>
    makeStoredEvent({
      userId: null,
      ...who,
      name,
      properties: JSON.stringify(properties),
      occurredAt: at + n,
    })
  const sink = new SqlEventSink({ db: old.db as Kysely<unknown> })
  const events = [
    // The user 'bob' and a visitor whose own cookie is 'bob': 0008's code made them one.
    event({ userId: 'bob' }, 'ordered', { productIds: ['p1'] }, 1),
    event({ anonymousId: 'bob' }, 'ordered', { productIds: ['p2'] }, 2),
    event({ userId: 'bob' }, 'viewed', { productId: 'v1' }, 3),
    event({ anonymousId: 'bob' }, 'viewed', { productId: 'v2' }, 4),
    event({ userId: 'carol' }, 'ordered', { productIds: ['p1', 'p2'] }, 5),
    event({ anonymousId: 'dave' }, 'ordered', { productIds: ['p1', 'p3'] }, 6),
  ]
  await sink.write({ id: makeBatchId(), events, failed: [], links: [] })
  // Rolled up by 0008's code: the batch log is empty, the units keyed by bare ids. The
  // units of 'ghost' have no stored event left (retention).
  await old.db.deleteFrom('mortar_analytics_batch').execute()
  const bare = [
    ['bought', 'bob', '', 'p1'],
    ['bought', 'bob', '', 'p2'],
    ['viewed', 'bob', '2026-03-02', 'v1'],
    ['viewed', 'bob', '2026-03-02', 'v2'],
    ['bought', 'carol', '', 'p1'],
    ['bought', 'carol', '', 'p2'],
    ['bought', 'dave', '', 'p1'],
    ['bought', 'dave', '', 'p3'],
    ['bought', 'ghost', '', 'p9'],
  ] as const
  await old.db
    .insertInto('mortar_analytics_unit_item')
    .values(
      bare.map(([kind, actor, unit, item]) => ({
        kind,
        actor: actor as PersonKey,
        unit,
        item,
      })),
    )
    .execute()
  const pairs = [
    ['bought', 'p1', 'p2', 2],
    ['bought', 'p1', 'p3', 1],
    ['viewed', 'v1', 'v2', 1],
  ] as const
  await old.db
    .insertInto('mortar_analytics_pair')
    .values(
      pairs.flatMap(([kind, a, b, count]) => [
        { kind, item: a, other: b, count },
        { kind, item: b, other: a, count },
      ]),
    )
    .execute()
  const items = [
    ['bought', 'p1', 3],
    ['bought', 'p2', 2],
    ['bought', 'p3', 1],
    ['bought', 'p9', 1],
    ['viewed', 'v1', 1],
    ['viewed', 'v2', 1],
  ] as const
  await old.db
    .insertInto('mortar_analytics_item')
    .values(items.map(([kind, item, units]) => ({ kind, item, units })))
    .execute()
  await old.app.stop()
}

/** An app of the module on `url` that rolls up the shop's views and purchases. */
async function shopApp(url: string) {
  const app = createTestApp({
    database: url,
    jobs: { workers: false },
    modules: [
      analyticsModule({
        events: shop,
        timeZone: 'UTC',
        recommendations: {
          viewed: { event: 'viewed', item: 'productId' },
          bought: { event: 'ordered', items: 'productIds' },
        },
      }),
    ],
  })
  await app.migrate()
  await app.start()
  return {
    app,
    analytics: app.resolve(ANALYTICS),
    db: app.resolve(DATABASE).kysely as Kysely<AnalyticsTables>,
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`analytics migrations, ${engine.title}`, () => {
    it('builds the ranked lists from the co-occurrences rolled up before they existed', async () => {
      const database = await privateDatabaseUrl(engine)
      try {
        const old = await migrated(database.url, before('0004'))
        await old.db
          .insertInto('mortar_analytics_item')
          .values([
            { kind: 'bought', item: 'a', units: 3 },
            { kind: 'bought', item: 'b', units: 2 },
            { kind: 'bought', item: 'c', units: 2 },
          ])
          .execute()
        await old.db
          .insertInto('mortar_analytics_pair')
          .values(
            [
              ['a', 'b', 2],
              ['b', 'a', 2],
              ['a', 'c', 2],
              ['c', 'a', 2],
              ['b', 'c', 1],
              ['c', 'b', 1],
            ].map(([item, other, count]) => ({
              kind: 'bought',
              item: item as string,
              other: other as string,
              count: count as number,
            })),
          )
          .execute()
        await old.app.stop()
        const now = await migrated(database.url, analyticsMigrations)
        const lists = await now.db
          .selectFrom('mortar_analytics_also')
          .selectAll()
          .orderBy('item')
          .orderBy('place')
          .execute()
        await now.app.stop()
        // Pairs of one person (b–c) are not listed; a's two others tie on cosine and count.
        expect(
          lists.map((r) => [r.item, Number(r.place), r.other, Number(r.together), Number(r.units)]),
        ).toEqual([
          ['a', 1, 'b', 2, 2],
          ['a', 2, 'c', 2, 2],
          ['b', 1, 'a', 2, 3],
          ['c', 1, 'a', 2, 3],
        ])
      } finally {
        await database.drop()
      }
    })

    it('tags the bare actors of the unit rows and splits the units a user and a visitor of one id text shared', async () => {
      const database = await privateDatabaseUrl(engine)
      try {
        await mergedInstall(database.url)

        const now = await migrated(database.url, analyticsMigrations)
        expect(await unitRows(now.db)).toEqual([
          'bought !bob  p1',
          'bought !bob  p2',
          'bought adave  p1',
          'bought adave  p3',
          'bought ucarol  p1',
          'bought ucarol  p2',
          'bought ughost  p9',
          'viewed !bob 2026-03-02 v1',
          'viewed !bob 2026-03-02 v2',
        ])
        await now.app.stop()

        // The next rollup, which knows the item sources, splits bob's units from the events.
        const { app, analytics, db } = await shopApp(database.url)
        try {
          await analytics.rollup()
          expect(await unitRows(db)).toEqual([
            'bought abob  p2',
            'bought adave  p1',
            'bought adave  p3',
            'bought ubob  p1',
            'bought ucarol  p1',
            'bought ucarol  p2',
            'bought ughost  p9',
            'viewed abob 2026-03-02 v2',
            'viewed ubob 2026-03-02 v1',
          ])
          expect(await cooccurrences(db)).toEqual({
            pairs: ['bought p1 p2 1', 'bought p1 p3 1', 'bought p2 p1 1', 'bought p3 p1 1'],
            items: [
              'bought p1 3',
              'bought p2 2',
              'bought p3 1',
              'bought p9 1',
              'viewed v1 1',
              'viewed v2 1',
            ],
          })
          expect(await analytics.alsoViewed('v1', { minSupport: 1 })).toEqual([])
          // Run once: a later rollup leaves them as they are.
          await analytics.rollup()
          expect((await unitRows(db)).length).toBe(9)
          // And forgetting the user 'bob' leaves the visitor 'bob' what they bought and viewed.
          await analytics.forgetUser('bob')
          expect((await unitRows(db)).filter((row) => row.includes('bob'))).toEqual([
            'bought abob  p2',
            'viewed abob 2026-03-02 v2',
          ])
        } finally {
          await app.stop()
        }
      } finally {
        await database.drop()
      }
    })

    it('splits the merged units in forgetUser when it runs before the next rollup', async () => {
      const database = await privateDatabaseUrl(engine)
      try {
        await mergedInstall(database.url)
        const { app, analytics, db } = await shopApp(database.url)
        try {
          await analytics.forgetUser('bob')
          expect(await unitRows(db)).toEqual([
            'bought abob  p2',
            'bought adave  p1',
            'bought adave  p3',
            'bought ucarol  p1',
            'bought ucarol  p2',
            'bought ughost  p9',
            'viewed abob 2026-03-02 v2',
          ])
          expect((await cooccurrences(db)).items).toEqual([
            'bought p1 2',
            'bought p2 2',
            'bought p3 1',
            'bought p9 1',
            'viewed v2 1',
          ])
        } finally {
          await app.stop()
        }
      } finally {
        await database.drop()
      }
    })

    it('splits merged units once, with the units of a visitor linked to that user since, as a fold of the stored events would', async () => {
      const database = await privateDatabaseUrl(engine)
      try {
        const old = await migrated(database.url, before('0009'))
        const at = Date.UTC(2026, 2, 2, 9)
        const ordered = (who: { userId: string } | { anonymousId: string }, item: string) =>
          makeStoredEvent({
            userId: null,
            ...who,
            name: 'ordered',
            properties: JSON.stringify({ productIds: [item] }),
            occurredAt: at,
          })
        // The user 'bob' and a visitor whose cookie is 'bob' (one unit to 0008's code), and the
        // visitor 'v7', rolled up before their link to bob arrived.
        await new SqlEventSink({ db: old.db as Kysely<unknown> }).write({
          id: makeBatchId(),
          events: [
            ordered({ userId: 'bob' }, 'p1'),
            ordered({ anonymousId: 'bob' }, 'p2'),
            ordered({ anonymousId: 'v7' }, 'p3'),
          ],
          failed: [],
          links: [{ anonymousId: 'v7', userId: 'bob', linkedAt: at + 1 }],
        })
        await old.db.deleteFrom('mortar_analytics_batch').execute()
        await old.db
          .insertInto('mortar_analytics_unit_item')
          .values(
            [
              ['bob', 'p1'],
              ['bob', 'p2'],
              ['v7', 'p3'],
            ].map(([actor, item]) => ({
              kind: 'bought' as const,
              actor: actor as PersonKey,
              unit: '',
              item: item as string,
            })),
          )
          .execute()
        await old.db
          .insertInto('mortar_analytics_pair')
          .values([
            { kind: 'bought', item: 'p1', other: 'p2', count: 1 },
            { kind: 'bought', item: 'p2', other: 'p1', count: 1 },
          ])
          .execute()
        await old.db
          .insertInto('mortar_analytics_item')
          .values(['p1', 'p2', 'p3'].map((item) => ({ kind: 'bought', item, units: 1 })))
          .execute()
        await old.app.stop()

        const { app, analytics, db } = await shopApp(database.url)
        try {
          await analytics.rollup()
          // v7's purchase is bob's, once: not also still the visitor's.
          expect(await unitRows(db)).toEqual([
            'bought abob  p2',
            'bought ubob  p1',
            'bought ubob  p3',
          ])
          expect(await cooccurrences(db)).toEqual({
            pairs: ['bought p1 p3 1', 'bought p3 p1 1'],
            items: ['bought p1 1', 'bought p2 1', 'bought p3 1'],
          })
        } finally {
          await app.stop()
        }
      } finally {
        await database.drop()
      }
    })

    it('keeps a user forgotten before the suppression mark out of later batches', async () => {
      const database = await privateDatabaseUrl(engine)
      try {
        const old = await migrated(database.url, before('0007'))
        await old.db
          .insertInto('mortar_analytics_suppressed')
          .values({ user_id: 'u-earlier', suppressed_at: 0 })
          .execute()
        await old.app.stop()
        const now = await migrated(database.url, analyticsMigrations)
        const sink = new SqlEventSink({ db: now.db as Kysely<unknown> })
        const events = [makeStoredEvent({ userId: 'u-earlier' })]
        const outcome = await sink.write({ id: makeBatchId(), events, failed: [], links: [] })
        const stored = await now.db.selectFrom('mortar_analytics_event').select('id').execute()
        await now.app.stop()
        expect(outcome).toEqual({ suppressed: { events: 1, failed: 0 } })
        expect(stored).toEqual([])
      } finally {
        await database.drop()
      }
    })
  })
}
