import { Database } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { idIn, rowsById } from './id-in.js'

const ROWS = 5_000

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(`idIn on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)

    it('selects the rows of the ids given, each once, whatever their order and repeats', async () => {
      const target = await privateDatabaseUrl(engine)
      const database = new Database(target.url)
      try {
        await database.connect()
        const db = database.root as Kysely<{ probe: { id: string } }>
        await db.schema
          .createTable('probe')
          .addColumn('id', 'varchar(36)', (column) => column.primaryKey())
          .execute()
        await db
          .insertInto('probe')
          .values(Array.from({ length: 20 }, (_, n) => ({ id: `id-${n}` })))
          .execute()
        const rows = await db
          .selectFrom('probe')
          .select('id')
          .where(idIn(db as Kysely<unknown>, 'id', ['id-7', 'id-3', 'id-7', 'missing', 'id-19']))
          .orderBy('id')
          .execute()
        expect(rows.map((row) => row.id)).toEqual(['id-19', 'id-3', 'id-7'])
        const joined = await db
          .selectFrom(
            rowsById<{ id: string }>(db as Kysely<unknown>, 'probe', [
              'id-7',
              'id-3',
              'id-7',
              'missing',
              'id-19',
            ]).as('r'),
          )
          .select('r.id')
          .orderBy('r.id')
          .execute()
        expect(joined.map((row) => row.id)).toEqual(['id-19', 'id-3', 'id-7'])
      } finally {
        await database.destroy()
        await target.drop()
      }
    })

    // The plan is PostgreSQL's concern (its planner scanned for a plain list): the test exists
    // only there rather than showing as skipped on the other engines.
    if (engine.engine === 'postgres') {
      it('finds a batch of ids through the primary key, not a scan, whatever the statistics say', async () => {
        const target = await privateDatabaseUrl(engine)
        const database = new Database(target.url)
        try {
          await database.connect()
          const db = database.root
          // A wide row like a delivery's, a table the size a vacuumed ledger keeps, and a second
          // table joined by another column, as the preferences are to the deliveries.
          await sql`create table probe (id varchar(36) primary key, owner text not null, status text not null, body text not null)`.execute(
            db,
          )
          await sql`create index probe_owner on probe (owner, id)`.execute(db)
          await sql`create table choice (owner text primary key, enabled boolean not null)`.execute(
            db,
          )
          const fill = (from: number) =>
            sql`insert into probe select 'id-' || n, 'owner-' || (n % 100), 'queued', repeat('x', 150)
              from generate_series(${from}::integer, ${from + ROWS - 1}::integer) as n`.execute(db)
          const ids = (from: number) =>
            Array.from({ length: 50 }, (_, n) => `id-${from + n * 97 + 1}`)
          const plan = async (query: ReturnType<typeof sql>) => {
            const { rows } = await sql<{
              'QUERY PLAN': string
            }>`explain (format text) ${query}`.execute(db)
            return rows.map((row) => row['QUERY PLAN']).join('\n')
          }
          const expectProbes = async (batch: readonly string[]) => {
            const read = await plan(sql`select r.*, c.enabled
              from ${rowsById(db, 'probe', batch)} as r left join choice as c on c.owner = r.owner`)
            expect(read).toMatch(/Index Cond: \(\(?id\)?(::text)? = k\.id\)/)
            expect(read).not.toMatch(/Seq Scan on probe|on probe_owner/)
            const write = await plan(sql`update probe as p set status = v.status
              from unnest(${batch}::text[], ${batch.map(() => 'sent')}::text[]) as v(id, status)
              where ${idIn(db, 'p.id', batch)} and p.id = v.id`)
            expect(write).toMatch(/Index Cond: \(\(?id\)?(::text)? = ANY/)
            expect(write).not.toMatch(/Seq Scan on probe/)
          }
          await fill(1)
          await sql`analyze probe`.execute(db)
          // The plain list is planned as the scan that this avoids.
          expect(await plan(sql`select * from probe where id in (${sql.join(ids(1))})`)).toMatch(
            /Seq Scan on probe/,
          )
          await expectProbes(ids(1))
          // A vacuum that finds the table empty but for its last page records it as empty (no
          // autovacuum corrects it): the next thousands of rows are planned as one or two.
          await sql`delete from probe where id <> ${`id-${ROWS}`}`.execute(db)
          await sql`vacuum probe`.execute(db)
          await fill(ROWS + 1)
          await expectProbes(ids(ROWS + 1))
        } finally {
          await database.destroy()
          await target.drop()
        }
      })
    }
  })
}
