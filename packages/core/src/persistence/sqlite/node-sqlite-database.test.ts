import { DatabaseSync } from 'node:sqlite'
import fc from 'fast-check'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { afterAll, describe, expect, it } from 'vitest'
import { NodeSqliteDatabase, SQLITE_JS_TEXT } from './node-sqlite-database.js'

describe('NodeSqliteDatabase', () => {
  const db = new Kysely<{ v: { id: number; x: unknown } }>({
    dialect: new SqliteDialect({ database: new NodeSqliteDatabase(new DatabaseSync(':memory:')) }),
  })
  afterAll(() => db.destroy())
  const fn = sql.raw(SQLITE_JS_TEXT)

  it(`registers ${SQLITE_JS_TEXT}: a value's text as String() writes what node:sqlite reads`, async () => {
    // No declared type, so each value keeps its storage class.
    await sql`create table v (id integer primary key, x)`.execute(db)
    const values = fc.oneof(
      fc.double({ noNaN: true }),
      fc.constantFrom(1e21, 1 / 3, 1e-7, -0, 2 ** 60, 39293198896550888, 1, Infinity),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.string(),
    )
    await fc.assert(
      fc.asyncProperty(values, async (x) => {
        await db.deleteFrom('v').execute()
        await db.insertInto('v').values({ id: 1, x }).execute()
        const row = await sql<{ x: unknown; text: string }>`select x, ${fn}(x) as text from v`
          .execute(db)
          .then((result) => result.rows[0])
        // Read back as a number, or a string past 2^53; its text is JavaScript's.
        expect(row?.text).toBe(String(row?.x))
        expect(row?.text).toBe(String(x))
      }),
      { numRuns: 300 },
    )
  })

  it('reads the INTEGER -2^63 whole, and a REAL of the same value as a number', async () => {
    await sql`create table edge (id integer primary key, i integer, r real)`.execute(db)
    await sql`insert into edge values (1, ${-(2n ** 63n)}, ${-(2 ** 63)})`.execute(db)
    const { rows } = await sql<{ i: unknown; r: unknown }>`select i, r from edge`.execute(db)
    expect(rows).toEqual([{ i: '-9223372036854775808', r: -(2 ** 63) }])
  })

  it(`gives NULL for a BLOB and for NULL in ${SQLITE_JS_TEXT}`, async () => {
    const { rows } = await sql<{
      blob: unknown
      none: unknown
    }>`select ${fn}(x'00') as blob, ${fn}(null) as none`.execute(db)
    expect(rows).toEqual([{ blob: null, none: null }])
  })
})
