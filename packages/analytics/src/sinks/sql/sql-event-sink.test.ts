import { DATABASE, createApp, defineModule } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { analyticsMigrations } from '../../storage/analytics-migrations.js'
import type { AnalyticsTables, DbInt } from '../../storage/analytics-tables.js'
import { AnalyticsBatchError } from '../../errors.js'
import { eventSinkConformance, makeBatchId, makeStoredEvent } from '../../testing/index.js'
import { uuidV7 } from '@mortar/core'
import type { EventBatch, FailedEvent, StoredEvent } from '../event-sink.js'
import type { EventSinkContents } from '../../testing/index.js'
import { CopyRows, copyInto } from './postgres-copy.js'
import { SqlEventSink } from './sql-event-sink.js'

const tables = defineModule({ name: 'analytics', register() {}, migrations: analyticsMigrations })

async function open(engine: Parameters<typeof privateDatabaseUrl>[0]) {
  const database = await privateDatabaseUrl(engine)
  const app = createApp({ database: database.url, modules: [tables] })
  await app.migrate()
  await app.start()
  const db = app.resolve(DATABASE).kysely as Kysely<AnalyticsTables>
  return {
    db,
    sink: new SqlEventSink({ db: db as Kysely<unknown> }),
    async dispose() {
      await app.stop()
      await database.drop()
    },
  }
}

async function read(db: Kysely<AnalyticsTables>): Promise<EventSinkContents> {
  const events = await db.selectFrom('mortar_analytics_event').selectAll().execute()
  const failed = await db.selectFrom('mortar_analytics_failed_event').selectAll().execute()
  const links = await db.selectFrom('mortar_analytics_identity').selectAll().execute()
  return {
    events: events.map((row) => ({
      id: row.id,
      name: row.name,
      occurredAt: Number(row.occurred_at),
      userId: row.user_id,
      anonymousId: row.anonymous_id,
      sessionId: row.session_id,
      properties:
        typeof row.properties === 'string' ? row.properties : JSON.stringify(row.properties),
      ip: row.ip,
      userAgent: row.user_agent,
      country: row.country,
    })),
    // A name or id no column holds is kept whole, as JSON, beside it.
    failed: failed.map((row) => ({
      id: row.id,
      name: row.whole_name === null ? row.name : (JSON.parse(row.whole_name) as string),
      occurredAt: Number(row.occurred_at),
      userId: row.whole_user_id === null ? row.user_id : (JSON.parse(row.whole_user_id) as string),
      anonymousId:
        row.whole_anonymous_id === null
          ? row.anonymous_id
          : (JSON.parse(row.whole_anonymous_id) as string),
      reason: row.reason,
      properties: row.properties,
    })),
    links: links.map((row) => ({
      anonymousId: row.anonymous_id,
      userId: row.user_id,
      linkedAt: Number(row.linked_at as DbInt),
    })),
  }
}

for (const engine of testEngines()) {
  eventSinkConformance(
    vitest,
    `SqlEventSink on ${engine.title}`,
    async () => {
      const opened = await open(engine)
      return { sink: opened.sink, read: () => read(opened.db), dispose: opened.dispose }
    },
    { skip: engine.skip },
  )

  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`SqlEventSink on ${engine.title}`, () => {
    let opened: Awaited<ReturnType<typeof open>>
    beforeAll(async () => {
      opened = await open(engine)
    })
    afterAll(() => opened?.dispose())

    it('refuses a Kysely whose tables a schema plugin moves, which its raw batch log would miss', () => {
      const { db } = opened
      expect(() => new SqlEventSink({ db: db.withSchema('elsewhere') as Kysely<unknown> })).toThrow(
        expect.objectContaining({ code: 'E_DATABASE_PLUGIN' }),
      )
    })

    it('logs each batch once for the rollup, and not again for a retry after the rollup took it', async () => {
      const { db, sink } = opened
      const events = [makeStoredEvent(), makeStoredEvent()]
      const batch = { id: makeBatchId(), events, failed: [], links: [] }
      await sink.write(batch)
      const logged = () =>
        db
          .selectFrom('mortar_analytics_batch')
          .selectAll()
          .where('batch_id', '=', batch.id)
          .execute()
      expect(await logged()).toHaveLength(1)
      // The rollup folds a batch in and deletes its log row; a late retry must not log it again.
      await db.deleteFrom('mortar_analytics_batch').where('batch_id', '=', batch.id).execute()
      await sink.write(batch)
      expect(await logged()).toHaveLength(0)
      const stored = await db
        .selectFrom('mortar_analytics_event')
        .select('id')
        .where('batch_id', '=', batch.id)
        .execute()
      expect(stored).toHaveLength(2)
    })

    // MariaDB's INSERT IGNORE stored a NULL in a NOT NULL column as '' (and a text too long
    // cut), with a warning only, where SQLite and PostgreSQL refuse: a path that skips
    // existing keys must skip those alone.
    it('refuses a value a column cannot hold on every path that skips existing keys, storing nothing', async () => {
      const { db, sink } = opened
      const link = {
        anonymousId: `anon-${makeBatchId()}`,
        userId: null as unknown as string,
        linkedAt: 1,
      }
      const failed = {
        ...makeStoredEvent(),
        reason: null as unknown as string,
        properties: null,
      }
      const event = makeStoredEvent()
      await expect(
        sink.write({ id: makeBatchId(), events: [], failed: [], links: [link] }),
      ).rejects.toThrow()
      await expect(
        sink.write({ id: makeBatchId(), events: [], failed: [failed], links: [] }),
      ).rejects.toThrow()
      // Inside the caller's transaction every write skips existing keys.
      await expect(
        db.transaction().execute((trx) =>
          new SqlEventSink({ db: trx as unknown as Kysely<unknown> }).write({
            id: makeBatchId(),
            events: [{ ...event, name: null as unknown as string }],
            failed: [],
            links: [],
          }),
        ),
      ).rejects.toThrow()
      const links = await db
        .selectFrom('mortar_analytics_identity')
        .select('user_id')
        .where('anonymous_id', '=', link.anonymousId)
        .execute()
      const failures = await db
        .selectFrom('mortar_analytics_failed_event')
        .select('reason')
        .where('id', '=', failed.id)
        .execute()
      const events = await db
        .selectFrom('mortar_analytics_event')
        .select('name')
        .where('id', '=', event.id)
        .execute()
      expect({ links, failures, events }).toEqual({ links: [], failures: [], events: [] })
    })

    it('joins an open transaction, so a rollback takes the events with it', async () => {
      const { db, sink } = opened
      const event = makeStoredEvent()
      await db
        .transaction()
        .execute(async (trx) => {
          await new SqlEventSink({ db: trx as unknown as Kysely<unknown> }).write({
            id: makeBatchId(),
            events: [event],
            failed: [],
            links: [],
          })
          throw new Error('rollback')
        })
        .catch(() => undefined)
      const found = await db
        .selectFrom('mortar_analytics_event')
        .select('id')
        .where('id', '=', event.id)
        .execute()
      expect(found).toHaveLength(0)
      expect(sink).toBeDefined()
    })

    // Until a first forgetUser the state row says no suppression exists, and a batch write
    // (in every path but PostgreSQL's COPY, which plans them and skips them) reads neither
    // suppression table: here, tables that are not there.
    it('reads no suppression table while no identity was ever forgotten', async () => {
      const { db, sink } = opened
      const event = makeStoredEvent({ anonymousId: 'a-never' })
      const anonymous = makeStoredEvent({ userId: null, anonymousId: 'a-never' })
      const failed = { ...makeStoredEvent(), reason: 'refused by its schema' }
      const moved = ['mortar_analytics_suppressed', 'mortar_analytics_suppressed_anonymous']
      const rename = (from: string, to: string) =>
        sql`alter table ${sql.table(from)} rename to ${sql.table(to)}`.execute(db)
      for (const table of moved) await rename(table, `${table}_moved`)
      try {
        await expect(
          sink.write({
            id: makeBatchId(),
            events: [event, anonymous],
            failed: [failed],
            links: [{ anonymousId: 'a-never', userId: event.userId!, linkedAt: event.occurredAt }],
          }),
        ).resolves.toEqual({ suppressed: { events: 0, failed: 0 } })
      } finally {
        for (const table of moved) await rename(`${table}_moved`, table)
      }
      const stored = await db
        .selectFrom('mortar_analytics_event')
        .select('id')
        .where('anonymous_id', '=', 'a-never')
        .execute()
      expect(stored).toHaveLength(2)
    })

    // PostgreSQL's own path; the other engines have no COPY.
    if (engine.engine === 'postgres')
      it('copies rows with COPY on the connection Kysely holds', async () => {
        const { db } = opened
        const rows = [
          makeStoredEvent(),
          makeStoredEvent({ userId: null, properties: '{"q":"tab\\there"}' }),
        ]
        const data = new CopyRows(0)
        for (const e of rows) {
          data.integer(e.occurredAt)
          for (const value of [
            e.id,
            '7',
            e.name,
            e.userId,
            e.anonymousId,
            e.sessionId,
            e.properties,
          ])
            data.text(value)
          data.end()
        }
        const count = await copyInto(
          db as Kysely<unknown>,
          'mortar_analytics_event',
          [
            'occurred_at',
            'id',
            'batch_id',
            'name',
            'user_id',
            'anonymous_id',
            'session_id',
            'properties',
          ],
          data.finish(),
        )
        expect(count).toEqual([2])
        const stored = await db
          .selectFrom('mortar_analytics_event')
          .select(['id', 'properties'])
          .where('batch_id', '=', 7)
          .execute()
        expect(stored.map((row) => row.id).sort()).toEqual(rows.map((e) => e.id).sort())
      })

    // The rows go out right behind the COPY, before PostgreSQL accepts it: when it refuses the
    // COPY itself, the rows must be dropped and the connection must stay usable.
    if (engine.engine === 'postgres')
      it('rejects a COPY PostgreSQL refuses, and the connection answers the next query', async () => {
        const { db } = opened
        const data = new CopyRows(0)
        for (let i = 0; i < 1_000; i++) {
          data.integer(i)
          data.text('x\ty')
          data.end()
        }
        await expect(
          copyInto(db as Kysely<unknown>, 'no_such_table', ['a', 'b'], data.finish()),
        ).rejects.toMatchObject({ code: '42P01' })
        const event = makeStoredEvent()
        await opened.sink.write({ id: makeBatchId(), events: [event], failed: [], links: [] })
        const stored = await db
          .selectFrom('mortar_analytics_event')
          .select('id')
          .where('id', '=', event.id)
          .execute()
        expect(stored).toHaveLength(1)
      })

    // SQLite stored a text of any length and a fractional time, where PostgreSQL refused the
    // whole batch (its valid events with it) and MariaDB cut or rounded.
    it('writes the valid entries of a batch and refuses the rest with AnalyticsBatchError, the same limits on every engine', async () => {
      const { db, sink } = opened
      const emoji = '\u{1F600}'
      const atLimit = makeStoredEvent({
        name: emoji.repeat(100),
        userId: emoji.repeat(255),
        anonymousId: 'a'.repeat(255),
        ip: '2001:db8:85a3::'.padEnd(45, '0'),
        userAgent: 'u'.repeat(512),
        country: 'FR',
      })
      const bad: Partial<StoredEvent>[] = [
        { name: 'n'.repeat(101) },
        { name: '' },
        { userId: emoji.repeat(256) },
        { anonymousId: 'a'.repeat(256) },
        { sessionId: '' },
        { ip: '1'.repeat(46) },
        { userAgent: 'u'.repeat(513) },
        { country: 'FRA' },
        { occurredAt: Date.UTC(2026, 2, 1) + 0.5 },
        { id: 'not-a-uuid' },
        { properties: '[1]' },
        { properties: `{"a":"\u0000"}` },
        { userId: 'a\ud800' },
        { properties: `{"a":${'['.repeat(31)}${']'.repeat(31)}}` },
      ]
      const events = [atLimit, ...bad.map((fields) => makeStoredEvent(fields)), makeStoredEvent()]
      const failed: FailedEvent = {
        id: uuidV7(Date.UTC(2026, 2, 1)),
        name: 42 as unknown as string,
        occurredAt: Date.UTC(2026, 2, 1),
        userId: null,
        anonymousId: null,
        reason: 'a name that is no text',
        properties: null,
      }
      // A failed event keeps a name or id no column holds whole, beside it.
      const goodFailed = {
        ...failed,
        id: uuidV7(Date.UTC(2026, 2, 1)),
        name: 'f'.repeat(256),
        userId: 'u\u0000',
      }
      const links = [
        { anonymousId: `l-${'x'.repeat(254)}`, userId: 'u-link', linkedAt: 1 },
        { anonymousId: `l-${makeBatchId()}`, userId: 'u-link', linkedAt: 1 },
      ]
      const batch: EventBatch = { id: makeBatchId(), events, failed: [failed, goodFailed], links }
      const error = await sink.write(batch).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(AnalyticsBatchError)
      expect((error as AnalyticsBatchError).code).toBe('E_ANALYTICS_BATCH')
      expect(
        (error as AnalyticsBatchError).refused.map((entry) => `${entry.kind} ${entry.index}`),
      ).toEqual([...bad.map((_, index) => `event ${index + 1}`), 'failed 0', 'link 0'])
      const contents = await read(db)
      const stored = contents.events.filter((event) => events.some((e) => e.id === event.id))
      expect(stored.map((event) => event.id).sort()).toEqual([atLimit.id, events.at(-1)?.id].sort())
      expect(stored.find((event) => event.id === atLimit.id)?.name).toBe(atLimit.name)
      expect(contents.failed.filter((f) => f.id === failed.id || f.id === goodFailed.id)).toEqual([
        goodFailed,
      ])
      expect(contents.links.filter((link) => link.userId === 'u-link')).toEqual([links[1]])
    })
  })
}
