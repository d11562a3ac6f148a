import { testEngines } from '@mortar/core/testing'
import { CompiledQuery, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { definePolicy } from './define-policy.js'
import { insertWorld } from '../testing/policy-agreement.js'
import { expectRuleAgrees, privateTestDatabase, rulePolicy } from '../testing/rule-agreement.js'

interface ListDb {
  item: {
    id: number
    n: number | null
    big: string | null
    txt: string | null
    dbl: number | null
    flag: boolean | null
  }
}
type Column = Exclude<keyof ListDb['item'], 'id'>
interface Holder {
  list: unknown[]
}

// Past every engine's bound parameters in one statement: PostgreSQL's and MariaDB's 65,535,
// SQLite's 32,766. One comparison per value (a parameter or a few each) made `where` fail
// where `can` answered.
const LENGTH = 70_000

/** The k-th value of a principal's list: numbers, numerals, texts, booleans, a few of the rest. */
function listValue(k: number): unknown {
  if (k === 0) return new Date(0)
  if (k === 1) return 'x\ufffd'
  if (k % 1000 === 7) return k + 0.5
  switch (k % 5) {
    case 0:
      return String(k * 3)
    case 1:
      return `t${k}`
    case 2:
      return k % 2 === 0
    case 3:
      return BigInt(k * 1000)
    default:
      return k * 3
  }
}

const TYPES = {
  postgres: { big: sql`bigint`, dbl: sql`double precision`, flag: sql`boolean` },
  mysql: { big: sql`bigint`, dbl: sql`double`, flag: sql`boolean` },
  sqlite: { big: sql`integer`, dbl: sql`real`, flag: sql`boolean` },
}

for (const engine of testEngines()) {
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(
    `in over a principal's long list on ${engine.title}`,
    () => {
      const types = TYPES[engine.engine]
      const database = privateTestDatabase<ListDb>(engine, async (db) => {
        await sql`create table item (id int primary key, n integer, big ${types.big}, txt varchar(32), dbl ${types.dbl}, flag ${types.flag})`.execute(
          db,
        )
        await insertWorld(db, {
          item: Array.from({ length: 60 }, (_, k) => ({
            id: k,
            n: k % 7 === 0 ? null : k * 3,
            big: k % 5 === 0 ? null : String(k * 1000),
            txt: k % 6 === 0 ? null : k % 2 === 0 ? `t${k}` : String(k * 3),
            dbl: k % 4 === 0 ? null : k % 3 === 0 ? k + 0.5 : k * 3,
            flag: k % 8 === 0 ? null : k % 2 === 0,
          })),
        })
      })
      const list = Array.from({ length: LENGTH }, (_, k) => listValue(k))
      // MariaDB's driver writes the values into the statement (no parameter limit there), which
      // MariaDB then tests one by one for each row: the slowest engine, so two columns (a number
      // and a text) there.
      const columns: readonly Column[] =
        engine.engine === 'mysql' ? ['n', 'txt'] : ['n', 'big', 'txt', 'dbl', 'flag']
      for (const column of columns) {
        it(`lets through in where() the rows can() does for ${LENGTH.toLocaleString('en')} values against ${column}`, async () => {
          const db = database.db
          const access = await AccessControl.create({
            policy: rulePolicy<ListDb, 'item', Holder>('item', (t, p) =>
              t.in(column, p.list as never),
            ),
            db,
          })
          await expectRuleAgrees({
            access,
            db,
            resource: 'item',
            principal: { list },
            actions: ['read', 'hide'],
            title: column,
          })
        }, 120_000)
      }

      if (engine.engine !== 'mysql') {
        it('looks the list up in an index of the column, as it does one value', async () => {
          const db = database.db
          const access = await AccessControl.create({
            policy: definePolicy<ListDb, Holder, 'read'>()
              .allow('read', 'item', (t, p) => t.in('n', p.list as never))
              .allow('read', 'item', (t, p) => t.in('txt', p.list as never))
              .build(),
            db,
          })
          await sql`create index item_n on item (n)`.execute(db)
          await sql`create index item_txt on item (txt)`.execute(db)
          try {
            const { sql: text, parameters } = db
              .selectFrom('item')
              .select('id')
              .where(access.where({ list }, 'read', 'item'))
              .compile()
            const plan =
              engine.engine === 'postgres'
                ? await db.transaction().execute(async (trx) => {
                    // Whether an index can serve it, whatever the table's size.
                    await sql`set local enable_seqscan = off`.execute(trx)
                    const rows = await trx.executeQuery<{ 'QUERY PLAN': string }>(
                      CompiledQuery.raw(`explain ${text}`, [...parameters]),
                    )
                    return rows.rows.map((row) => row['QUERY PLAN']).join('\n')
                  })
                : (
                    await db.executeQuery<{ detail: string }>(
                      CompiledQuery.raw(`explain query plan ${text}`, [...parameters]),
                    )
                  ).rows
                    .map((row) => row.detail)
                    .join('\n')
            if (engine.engine === 'postgres') {
              expect(plan).toMatch(/Index Cond: \(n = ANY/)
              expect(plan).toMatch(/Index Cond: \(\(txt\)::text = ANY/)
              expect(plan).not.toMatch(/Seq Scan/)
            } else {
              expect(plan).toMatch(/USING (COVERING )?INDEX item_n \(n=\?\)/)
              expect(plan).toMatch(/USING (COVERING )?INDEX item_txt \(txt=\?\)/)
              expect(plan).not.toMatch(/^SCAN item$/m)
            }
          } finally {
            await sql`drop index item_n`.execute(db)
            await sql`drop index item_txt`.execute(db)
          }
        }, 120_000)
      }
    },
  )
}
