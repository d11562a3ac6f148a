import { databaseToken } from '@mortar/core'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DELIVERIES } from '../module/notify-tokens.js'
import { recordingChannel } from '../test-support/recording-channel.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { DELIVERY_TABLE } from './delivery-table.js'

// More dead rows than PostgreSQL’s 65 535 bound parameters; elsewhere two pages (MariaDB
// recurses 1 000 times at most).
const DEAD = { postgres: 70_000, mysql: 999, sqlite: 999 } as const
// Named: past PostgreSQL's and SQLite's (32 766) bound parameters; MariaDB's recursion bound.
const NAMED = { postgres: 70_000, mysql: 999, sqlite: 40_000 } as const

/** `count` dead sms deliveries, ids `dead-000001`…, in one INSERT … SELECT of a number series. */
function insertDead(engine: keyof typeof DEAD, count: number): RawBuilder<unknown> {
  const id =
    engine === 'postgres'
      ? sql`'dead-' || lpad(n::text, 6, '0')`
      : engine === 'mysql'
        ? sql`concat('dead-', lpad(n, 6, '0'))`
        : sql`'dead-' || printf('%06d', n)`
  const numbers =
    engine === 'postgres'
      ? sql`generate_series(1, ${sql.lit(count)}) as s(n)`
      : sql`(with recursive s(n) as (select 1 union all select n + 1 from s where n < ${sql.lit(count)}) select n from s) as s`
  return sql`insert into ${sql.table(DELIVERY_TABLE)} (id, notification_id, type, category,
    recipient_id, channel, message, status, attempts, last_error, possible_duplicates, run_at,
    created_at, updated_at)
    select ${id}, ${id}, 'order.shipped', 'orders', 'ada', 'sms', '{"text":"hi"}', 'dead', 3,
      'refused', 0, 0, 0, 0 from ${numbers}`
}

for (const engine of testEngines()) {
  const title = `replay('all-dead') of many dead deliveries on ${engine.title}`
  if (engine.skip) console.info(`[skipped] ${title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(title, () => {
    let database: PrivateDatabaseUrl
    let app: TestApp

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      app = await startedNotifyTestApp(
        { channels: [recordingChannel('sms', (recipient) => recipient.phone)] },
        database.url,
      )
    })
    afterAll(async () => {
      await app?.stop()
      await database?.drop()
    })

    it('requeues them all when named, past the bound parameters of one statement, in one transaction', async () => {
      const count = NAMED[engine.engine]
      const db = app.resolve(databaseToken()) as Kysely<unknown>
      await insertDead(engine.engine, count).execute(db)
      const ids = Array.from({ length: count }, (_, i) => `dead-${String(i + 1).padStart(6, '0')}`)
      // Refused whole when one of them is not dead: nothing requeued.
      await expect(app.resolve(DELIVERIES).replay([...ids, 'nope'])).rejects.toMatchObject({
        code: 'E_DELIVERY_NOT_FOUND',
      })
      expect(await app.resolve(DELIVERIES).replay(ids)).toBe(count)
      const rows = await sql<{ status: string; rows: number | string }>`
        select status, count(*) as ${sql.id('rows')} from ${sql.table(DELIVERY_TABLE)}
        group by status`.execute(db)
      expect(rows.rows.map((row) => ({ ...row, rows: Number(row.rows) }))).toEqual([
        { status: 'queued', rows: count },
      ])
      await sql`delete from ${sql.table(DELIVERY_TABLE)}`.execute(db)
      await sql`delete from mortar_job`.execute(db)
    })

    it('requeues each of them once, though two replays run at once', async () => {
      const count = DEAD[engine.engine]
      const db = app.resolve(databaseToken()) as Kysely<unknown>
      await insertDead(engine.engine, count).execute(db)
      const deliveries = app.resolve(DELIVERIES)

      const replayed = await Promise.all([
        deliveries.replay('all-dead'),
        deliveries.replay('all-dead'),
      ])

      expect(replayed[0] + replayed[1]).toBe(count)
      const rows = await sql<{ status: string; replays: number | string; rows: number | string }>`
        select status, replays, count(*) as ${sql.id('rows')} from ${sql.table(DELIVERY_TABLE)}
        group by status, replays`.execute(db)
      expect(
        rows.rows.map((row) => ({ ...row, replays: Number(row.replays), rows: Number(row.rows) })),
      ).toEqual([{ status: 'queued', replays: 1, rows: count }])
    })
  })
}
