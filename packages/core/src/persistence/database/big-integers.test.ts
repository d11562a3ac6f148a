import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  testEngines,
} from '../../testing/test-databases.js'
import { Database } from './database.js'

interface Db {
  ledger: { id: number; amount: number | string; note: string }
}

const BIG = '9007199254740993' // 2^53 + 1: a JS number would read 9007199254740992
const NEGATIVE_BIG = '-9223372036854775808' // the smallest 64-bit integer

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`integers past 2^53 on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let target: PrivateDatabaseUrl
    let database: Database<Db>

    beforeAll(async () => {
      target = await privateDatabaseUrl(engine)
      database = new Database<Db>(target.url)
      await database.connect()
      await database.root.schema
        .createTable('ledger')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('amount', 'bigint', (c) => c.notNull())
        .addColumn('note', 'varchar(20)', (c) => c.notNull())
        .execute()
      await database.root
        .insertInto('ledger')
        .values([
          { id: 1, amount: BIG, note: 'big' },
          { id: 2, amount: NEGATIVE_BIG, note: 'smallest' },
          { id: 3, amount: 42, note: 'small' },
        ])
        .execute()
    })

    afterAll(async () => {
      await database?.destroy()
      await target?.drop()
    })

    it(`reads them back exactly, as strings, on ${engine.title}`, async () => {
      const rows = await database.kysely
        .selectFrom('ledger')
        .select(['id', 'amount'])
        .orderBy('id')
        .execute()
      expect(rows.map((row) => row.id)).toEqual([1, 2, 3])
      expect(rows.slice(0, 2).map((row) => row.amount)).toEqual([BIG, NEGATIVE_BIG])
      // Small values keep the engine's usual type: PostgreSQL and MariaDB read every BIGINT
      // as a string; SQLite has one integer type and keeps small ones as numbers.
      expect(String(rows[2]?.amount)).toBe('42')
    })

    it(`keeps small INTEGER columns and aggregates as numbers on ${engine.title}`, async () => {
      const row = await database.kysely
        .selectFrom('ledger')
        .select(['id'])
        .where('id', '=', 3)
        .executeTakeFirstOrThrow()
      expect(row.id).toBe(3)
    })

    it(`returns them from a write and in a filter on ${engine.title}`, async () => {
      const found = await database.kysely
        .selectFrom('ledger')
        .select('note')
        .where('amount', '=', BIG)
        .executeTakeFirstOrThrow()
      expect(found.note).toBe('big')
      if (engine.engine !== 'mysql') {
        // MySQL has no RETURNING.
        const returned = await database.kysely
          .updateTable('ledger')
          .set({ note: 'big again' })
          .where('id', '=', 1)
          .returning(['amount'])
          .executeTakeFirstOrThrow()
        expect(returned.amount).toBe(BIG)
      }
    })

    if (engine.engine === 'sqlite') {
      it('streams them and reports a big insert id exactly on SQLite', async () => {
        const streamed: unknown[] = []
        for await (const row of database.kysely
          .selectFrom('ledger')
          .select('amount')
          .orderBy('id')
          .stream()) {
          streamed.push(row.amount)
        }
        expect(streamed).toEqual([BIG, NEGATIVE_BIG, 42])
        const result = await database.kysely
          .insertInto('ledger')
          .values({ id: BIG as unknown as number, amount: 1, note: 'big id' })
          .executeTakeFirstOrThrow()
        expect(result.insertId).toBe(BigInt(BIG))
      })
    }
  })
}
