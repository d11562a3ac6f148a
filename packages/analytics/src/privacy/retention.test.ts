import { testEngines } from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { engineOf } from '../storage/sql-dialect.js'
import { anonymousKey, userKey } from '../queries/person-key.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  product_viewed: z.object({ productId: z.string() }),
  ordered: z.object({ productIds: z.array(z.string()) }),
})

/** The columns that name a person: a user id, an anonymous id, a rollup unit's actor. */
const PERSON_COLUMNS = ['user_id', 'anonymous_id', 'actor', 'whole_user_id', 'whole_anonymous_id']

/**
 * Every analytics table with a person's id, and what deletes its rows. A new one fails the
 * test below until it is listed here, and so until someone decides what removes its rows.
 */
const PERSON_TABLES: Readonly<Record<string, string>> = {
  mortar_analytics_event: 'retention by occurred_at; forgetUser',
  mortar_analytics_failed_event: 'retention by occurred_at; forgetUser',
  mortar_analytics_identity: 'retention once unused (no stored event of the id); forgetUser',
  mortar_analytics_unit_item: 'retention by day, or once no purchase event backs it; forgetUser',
  mortar_analytics_unit_stage: 'empty outside the rollup transaction',
  // The record of an erasure: what keeps a forgotten person's later events out.
  mortar_analytics_suppressed: 'forgetUser writes it; kept',
  mortar_analytics_suppressed_anonymous: 'forgetUser writes it; kept',
  mortar_analytics_suppressed_whole: 'forgetUser writes it; kept',
}

/** Each analytics table's columns that name a person. */
async function personColumns(db: Kysely<unknown>): Promise<Map<string, string[]>> {
  const engine = engineOf(db)
  const query =
    engine === 'sqlite'
      ? sql<{
          t: string
          c: string
        }>`select m.name as t, p.name as c from sqlite_master m join pragma_table_info(m.name) p where m.type = 'table'`
      : engine === 'postgres'
        ? sql<{
            t: string
            c: string
          }>`select table_name as t, column_name as c from information_schema.columns where table_schema = current_schema()`
        : sql<{
            t: string
            c: string
          }>`select table_name as t, column_name as c from information_schema.columns where table_schema = database()`
  const { rows } = await query.execute(db)
  const found = new Map<string, string[]>()
  for (const { t, c } of rows) {
    if (!t.startsWith('mortar_analytics_') || !PERSON_COLUMNS.includes(c)) continue
    found.set(t, [...(found.get(t) ?? []), c])
  }
  return found
}

const DAY = 86_400_000

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `retention of personal rows on ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>

      beforeAll(async () => {
        subject = await startEngineApp(engine, {
          events,
          retentionDays: 30,
          counts: { product_viewed: ['productId'] },
          recommendations: {
            viewed: { event: 'product_viewed', item: 'productId' },
            bought: { event: 'ordered', items: 'productIds' },
          },
        })
      })
      afterAll(async () => {
        await subject?.close()
      })

      it('lists every table holding a person, each with what removes its rows', async () => {
        const found = await personColumns(subject.db as Kysely<unknown>)
        expect([...found.keys()].sort()).toEqual(Object.keys(PERSON_TABLES).sort())
      })

      it('leaves no row of a person whose events all passed retentionDays, and keeps the aggregates', async () => {
        const { analytics, clock, db } = subject
        // Long ago: a visitor views two products, signs in (their cookie is linked), buys both.
        // u-both buys p1; c-kept's visitor signs in as u-kept.
        analytics.track('product_viewed', { productId: 'p1' }, { anonymousId: 'c-old' })
        analytics.track('product_viewed', { productId: 'p2' }, { anonymousId: 'c-old' })
        analytics.identify('u-old', undefined, { anonymousId: 'c-old' })
        analytics.track('ordered', { productIds: ['p1', 'p2'] }, { userId: 'u-old' })
        analytics.track('ordered', { productIds: ['p1'] }, { userId: 'u-both' })
        analytics.identify('u-kept', undefined, { anonymousId: 'c-kept' })
        await analytics.flush()
        await analytics.rollup()
        // Forty days on: u-both buys p3 and p4, c-kept's cookie comes back, u-new views today.
        clock.advance(40 * DAY)
        analytics.track('ordered', { productIds: ['p3', 'p4'] }, { userId: 'u-both' })
        analytics.track('product_viewed', { productId: 'p3' }, { anonymousId: 'c-kept' })
        analytics.track('product_viewed', { productId: 'p1' }, { userId: 'u-new' })
        analytics.track('product_viewed', { productId: 'p2' }, { userId: 'u-new' })
        await analytics.flush()
        await analytics.rollup()
        const aggregates = async () => ({
          daily: await db
            .selectFrom('mortar_analytics_daily')
            .select(['name', 'prop', 'day', 'value', 'count'])
            .orderBy('name')
            .orderBy('prop')
            .orderBy('day')
            .orderBy('value')
            .execute(),
          top: await db
            .selectFrom('mortar_analytics_top')
            .select(['name', 'prop', 'day', 'value', 'count'])
            .orderBy('name')
            .orderBy('prop')
            .orderBy('day')
            .orderBy('value')
            .execute(),
          pairs: await db
            .selectFrom('mortar_analytics_pair')
            .select(['kind', 'item', 'other', 'count'])
            .orderBy('kind')
            .orderBy('item')
            .orderBy('other')
            .execute(),
          items: await db
            .selectFrom('mortar_analytics_item')
            .select(['kind', 'item', 'units'])
            .orderBy('kind')
            .orderBy('item')
            .execute(),
          also: await db
            .selectFrom('mortar_analytics_also')
            .select(['kind', 'item', 'place', 'other'])
            .orderBy('kind')
            .orderBy('item')
            .orderBy('place')
            .execute(),
        })
        const before = await aggregates()
        expect(before.pairs.length).toBeGreaterThan(0)

        await analytics.applyRetention()

        // No table names the people whose every event is past the window, by id or person key.
        const gone = ['u-old', 'c-old']
        const named = [...gone, ...gone.map(userKey), ...gone.map(anonymousKey)]
        const found = await personColumns(db as Kysely<unknown>)
        for (const [table, columns] of found) {
          for (const column of columns) {
            const { rows } = await sql<{
              id: string
            }>`select ${sql.ref(column)} as id from ${sql.table(table)} where ${sql.ref(column)} in (${sql.join(named)})`.execute(
              db,
            )
            expect({ table, column, rows }).toEqual({ table, column, rows: [] })
          }
        }
        // What the window still holds stays: the link in use, today's views, the recent purchase.
        const links = await db
          .selectFrom('mortar_analytics_identity')
          .select(['anonymous_id', 'user_id'])
          .execute()
        expect(links).toEqual([{ anonymous_id: 'c-kept', user_id: 'u-kept' }])
        const units = await db
          .selectFrom('mortar_analytics_unit_item')
          .select(['kind', 'actor', 'unit', 'item'])
          .orderBy('kind')
          .orderBy('actor')
          .orderBy('unit')
          .orderBy('item')
          .execute()
        expect(units).toEqual([
          { kind: 'bought', actor: 'uu-both', unit: '', item: 'p3' },
          { kind: 'bought', actor: 'uu-both', unit: '', item: 'p4' },
          { kind: 'viewed', actor: 'uu-kept', unit: '2026-04-11', item: 'p3' },
          { kind: 'viewed', actor: 'uu-new', unit: '2026-04-11', item: 'p1' },
          { kind: 'viewed', actor: 'uu-new', unit: '2026-04-11', item: 'p2' },
        ])
        // The counts name no one: they stay as they were.
        expect(await aggregates()).toEqual(before)
      })
    },
  )
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `forgetUser after retention on ${engine.title}`,
    () => {
      it('subtracts what is still stored and says from when the rollups keep what retention deleted, which it cannot subtract', async () => {
        const subject = await startEngineApp(engine, {
          events,
          retentionDays: 30,
          counts: { product_viewed: ['productId'] },
        })
        try {
          const { analytics, clock, db } = subject
          const daily = () =>
            db
              .selectFrom('mortar_analytics_daily')
              .select(['day', 'value', 'count'])
              .where('prop', '=', 'productId')
              .orderBy('day')
              .orderBy('value')
              .execute()
          // Before any retention deleted events, every share is still there to subtract.
          analytics.track('product_viewed', { productId: 'p0' }, { userId: 'u-first' })
          await analytics.flush()
          await analytics.rollup()
          expect(await analytics.forgetUser('u-first')).toEqual({
            events: 1,
            failedEvents: 0,
            identityLinks: 0,
            rollupsKeptBefore: null,
          })
          analytics.track('product_viewed', { productId: 'p1' }, { userId: 'u-old' })
          analytics.track('product_viewed', { productId: 'p1' }, { userId: 'u-other' })
          await analytics.flush()
          await analytics.rollup()
          const oldDay = await daily()
          clock.advance(40 * DAY)
          await analytics.applyRetention()
          const cut = clock.nowMs() - 30 * DAY
          analytics.track('product_viewed', { productId: 'p2' }, { userId: 'u-old' })
          await analytics.flush()
          await analytics.rollup()

          const report = await analytics.forgetUser('u-old')
          // Their old view went with retention: its share of that day stays, named by no one.
          expect(report).toEqual({
            events: 1,
            failedEvents: 0,
            identityLinks: 0,
            rollupsKeptBefore: new Date(cut),
          })
          expect(await daily()).toEqual(oldDay)
        } finally {
          await subject.close()
        }
      })
    },
  )
}
