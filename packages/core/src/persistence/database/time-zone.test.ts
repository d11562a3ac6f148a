import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  testEngines,
} from '../../testing/test-databases.js'
import { Database } from './database.js'

interface Db {
  times: { id: number; ts: Date; dt: Date }
}

const mysql = testEngines().find((engine) => engine.engine === 'mysql')
// A zone with summer time, other than the server's (UTC here): mysql2 read and wrote dates in
// the process's zone, so 02:30Z and 03:30Z both came back as 07:30Z in America/New_York.
const PROCESS_ZONE = 'America/New_York'

// Every 20 minutes and a few milliseconds, three hours either side of the changes of summer time
// in New York (spring 2026-03-08 07:00Z, autumn 2026-11-01 06:00Z, whose local hour repeats)
// and in Europe (2026-03-29 and 2026-10-25 01:00Z).
const INSTANTS = [
  Date.UTC(2026, 2, 8, 7),
  Date.UTC(2026, 10, 1, 6),
  Date.UTC(2026, 2, 29, 1),
  Date.UTC(2026, 9, 25, 1),
].flatMap((change) =>
  Array.from({ length: 19 }, (_, step) => new Date(change + (step - 9) * 20 * 60_000 + step * 7)),
)

// Skipped only when MORTAR_TEST_MYSQL_URL is unset (the notice names it); .ci/run sets it.
describe.skipIf(mysql?.skip !== undefined)(
  `MariaDB dates with the process in ${PROCESS_ZONE} and the server in another zone`,
  () => {
    if (mysql?.skip) console.info(mysql.skip)
    const zone = process.env.TZ
    let target: PrivateDatabaseUrl
    let database: Database<Db>

    beforeAll(async () => {
      process.env.TZ = PROCESS_ZONE
      target = await privateDatabaseUrl(mysql as NonNullable<typeof mysql>)
      database = new Database<Db>(target.url)
      await database.connect()
      await database.root.schema
        .createTable('times')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('ts', sql.raw('timestamp(3)'), (c) => c.notNull())
        .addColumn('dt', sql.raw('datetime(3)'), (c) => c.notNull())
        .execute()
      await database.kysely
        .insertInto('times')
        .values(INSTANTS.map((at, id) => ({ id, ts: at, dt: at })))
        .execute()
    })

    afterAll(async () => {
      await database?.destroy()
      await target?.drop()
      if (zone === undefined) delete process.env.TZ
      else process.env.TZ = zone
    })

    it('the process is in a zone with summer time other than the server session', async () => {
      expect(new Date(2026, 0, 1).getTimezoneOffset()).toBe(300)
      expect(new Date(2026, 6, 1).getTimezoneOffset()).toBe(240)
      const server = await sql<{
        zone: string
      }>`select @@global.time_zone as zone`.execute(database.kysely)
      expect(server.rows[0]?.zone).not.toBe(PROCESS_ZONE)
    })

    it('reads back every TIMESTAMP and DATETIME as the instant written, around summer-time changes', async () => {
      const rows = await database.kysely
        .selectFrom('times')
        .select(['id', 'ts', 'dt'])
        .select([
          sql<string>`unix_timestamp(ts) * 1000`.as('ts_ms'),
          sql<string>`cast(dt as char)`.as('dt_text'),
        ])
        .orderBy('id')
        .execute()
      expect(rows.map((row) => row.ts.toISOString())).toEqual(
        INSTANTS.map((at) => at.toISOString()),
      )
      expect(rows.map((row) => row.dt.toISOString())).toEqual(
        INSTANTS.map((at) => at.toISOString()),
      )
      // Stored as the instant itself (a TIMESTAMP) and as its UTC wall-clock time (a DATETIME),
      // whatever zone the process and the server have.
      expect(rows.map((row) => Number(row.ts_ms))).toEqual(INSTANTS.map((at) => at.getTime()))
      expect(rows.map((row) => row.dt_text)).toEqual(
        INSTANTS.map((at) => at.toISOString().replace('T', ' ').replace('Z', '')),
      )
    })

    it('compares TIMESTAMP and DATETIME columns with a Date as JavaScript orders the instants', async () => {
      for (const pivot of INSTANTS) {
        for (const column of ['ts', 'dt'] as const) {
          const found = await database.kysely
            .selectFrom('times')
            .select('id')
            .where(column, '<', pivot)
            .orderBy('id')
            .execute()
          expect(
            found.map((row) => row.id),
            `${column} < ${pivot.toISOString()}`,
          ).toEqual(INSTANTS.flatMap((at, id) => (at.getTime() < pivot.getTime() ? [id] : [])))
        }
      }
    })

    it('gives every pooled connection the session time zone UTC', async () => {
      const sessions = await Promise.all(
        Array.from({ length: 3 }, () =>
          database.kysely
            .connection()
            .execute((db) => sql<{ zone: string }>`select @@session.time_zone as zone`.execute(db)),
        ),
      )
      for (const session of sessions) {
        expect(session.rows[0]?.zone).toBe('+00:00')
      }
    })
  },
)
