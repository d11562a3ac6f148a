import { Database } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { idIn, plannedAsFew } from './id-in.js'

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
      } finally {
        await database.destroy()
        await target.drop()
      }
    })

    // The plan is PostgreSQL's concern (its planner scanned for a plain list): the test exists
    // only there rather than showing as skipped on the other engines.
    if (engine.engine === 'postgres') {
      it('finds a batch of ids in a table of thousands through its primary key, not a scan', async () => {
        const target = await privateDatabaseUrl(engine)
        const database = new Database(target.url)
        try {
          await database.connect()
          const db = database.root
          // A wide row like a delivery's, and a table the size a vacuumed ledger keeps.
          await sql`create table probe (id varchar(36) primary key, status text not null, body text not null)`.execute(
            db,
          )
          await sql`insert into probe select 'id-' || n, 'queued', repeat('x', 150)
            from generate_series(1, ${ROWS}) as n`.execute(db)
          await sql`analyze probe`.execute(db)
          const ids = Array.from({ length: 50 }, (_, n) => `id-${n * 97 + 1}`)
          const plan = async (query: ReturnType<typeof sql>) => {
            const { rows } = await sql<{
              'QUERY PLAN': string
            }>`explain (format text) ${query}`.execute(db)
            return rows.map((row) => row['QUERY PLAN']).join('\n')
          }
          // The plain list is planned as the scan that this avoids.
          expect(await plan(sql`select * from probe where id in (${sql.join(ids)})`)).toMatch(
            /Seq Scan on probe/,
          )
          const read = await plan(sql`select * from probe where ${idIn(db, 'id', ids)}`)
          expect(read).toMatch(/Index Scan using probe_pkey/)
          expect(read).not.toMatch(/Seq Scan on probe/)
          const write = await plan(sql`update probe as p set status = v.status
            from (select * from unnest(${ids}::text[], ${ids.map(() => 'sent')}::text[]) ${plannedAsFew(ids.length)})
              as v(id, status)
            where p.id = v.id`)
          expect(write).toMatch(/Index Scan using probe_pkey/)
          expect(write).not.toMatch(/Seq Scan on probe/)
        } finally {
          await database.destroy()
          await target.drop()
        }
      })
    }
  })
}
