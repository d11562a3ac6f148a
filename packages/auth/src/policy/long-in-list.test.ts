import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { CompiledQuery, type RawBuilder, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { clearWorld, insertWorld } from '../testing/policy-agreement.js'
import {
  expectRuleAgrees,
  privateTestDatabase,
  type RuleAction,
  rulePolicy,
} from '../testing/rule-agreement.js'
import { definePolicy } from './define-policy.js'
import { isComparable } from './principal-ref.js'

// One table with a column of every type the engine's policies tell apart, each holding values
// of its type at their edges, and an `in` over a principal's list (ids the app derives from
// data: any length, any kinds) against each column: `where` must let through exactly the rows
// `can` does.
type ListDb = { item: Record<string, unknown> & { id: number } }
interface Holder {
  list: unknown[]
}

// Past every engine's bound parameters in one statement: PostgreSQL's and MariaDB's 65,535,
// SQLite's 32,766. One comparison per value (a parameter or a few each) made `where` fail
// where `can` answered.
const LENGTH = 70_000

/** A column: its SQL type and the values rows may hold (as inserted). */
interface ColumnKind {
  readonly type: RawBuilder<unknown>
  readonly values: readonly unknown[]
}

const at = (iso: string) => new Date(iso)
// SQLite TEXT holding bytes no UTF-8 holds, which node:sqlite reads with U+FFFD for them.
const INVALID_UTF8 = sql`cast(x'ff' as text)`
const INVALID_AFTER_A = sql`cast(x'61ff' as text)`
const INTS = [-1, 0, 1, 2, 42, 2_147_483_647, -2_147_483_648]
const TEXTS = [
  '',
  'a',
  'A',
  'a ',
  'é',
  'e\u0301',
  '😀',
  'a\ufffd',
  '\ufffd',
  '0',
  '1',
  '01',
  '-0',
  '1.5',
  '0.1',
  'NaN',
  'Infinity',
  '1e3',
  't7',
]
const DOUBLES = [0, -0, 1, 1.5, 0.1, -2.25, 1e300, 2 ** 53, 5e-324, 1e21, 3.000001, 7.5]
const DATES = [
  at('1970-01-01T00:00:00Z'),
  at('1970-01-01T00:00:00.001Z'),
  at('1969-12-31T23:59:59.999Z'),
  // Around Paris's changes of offset (the PostgreSQL run reads its faces in Europe/Paris).
  at('2026-03-29T01:30:00.123Z'),
  at('2026-03-29T02:30:00Z'),
  at('2026-10-25T00:30:00Z'),
  at('2026-10-25T01:30:00Z'),
  at('2000-02-29T00:00:00Z'),
]
const UUIDS = ['00000000-0000-0000-0000-000000000000', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']

// The list values of every kind a principal may hold, the rows' values among them.
const LIST_VALUES: readonly unknown[] = [
  ...INTS,
  ...TEXTS,
  ...DOUBLES,
  ...DATES,
  ...UUIDS,
  'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
  true,
  false,
  1n,
  -1n,
  42n,
  9_007_199_254_740_993n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  2n ** 64n,
  '9007199254740993',
  '9223372036854775807',
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  '-Infinity',
  'a\u0000b',
  '1.50',
  '1e+21',
  'x\ufffdy',
  '\ufffd\ufffd',
  'b',
  'true',
  'ab',
  at('2026-03-29T00:00:00Z'),
  at('2026-03-28T23:00:00Z'),
  new Date(8.64e15),
  new Date(-8.64e15),
  new Date(Date.UTC(-4713, 10, 24)),
]

const COLUMNS: Record<'postgres' | 'sqlite' | 'mysql', Readonly<Record<string, ColumnKind>>> = {
  postgres: {
    n: { type: sql`integer`, values: INTS },
    sm: { type: sql`smallint`, values: [0, 1, -1, 32_767] },
    big: {
      type: sql`bigint`,
      values: ['0', '42', '9007199254740993', '9223372036854775807', '-9223372036854775808'],
    },
    txt: { type: sql`varchar(32)`, values: TEXTS },
    ch: { type: sql`char(4)`, values: ['a', 'ab', '1', '', 'é'] },
    uid: { type: sql`uuid`, values: UUIDS },
    dbl: {
      type: sql`double precision`,
      values: [...DOUBLES, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
    },
    flt: { type: sql`real`, values: [0, -0, 1, 1.5, 0.1, -2.25, 100_000, 1e20] },
    num: { type: sql`numeric`, values: ['0', '1.50', '1.5', '42', '-0.001', 'NaN'] },
    flag: { type: sql`boolean`, values: [true, false] },
    mood: { type: sql`mood`, values: ['a', 'b', '1'] },
    d: {
      type: sql`date`,
      values: ['1970-01-01', '2026-03-29', '2026-10-25', 'infinity', '-infinity', '280000-01-01'],
    },
    ts: {
      type: sql`timestamp`,
      values: [
        '1970-01-01 01:00:00',
        '2026-03-29 03:30:00.123456',
        '2026-03-29 02:30:00',
        '2026-10-25 02:30:00',
        '2000-02-29 01:00:00',
        'infinity',
        '-infinity',
        '280000-01-01 00:00:00',
      ],
    },
    tz: {
      type: sql`timestamptz`,
      values: [
        '1970-01-01 00:00:00+00',
        '1970-01-01 00:00:00.0015+00',
        '1969-12-31 23:59:59.9999+00',
        '2026-03-29 01:30:00.123+00',
        'infinity',
        '-infinity',
        '280000-01-01 00:00:00+00',
      ],
    },
    js: {
      type: sql`json`,
      values: ['"a"', '"1"', '1', '1.5', '0.1', 'true', 'false', 'null', '[1]', '{"a":1}', '1e400'],
    },
    jb: {
      type: sql`jsonb`,
      values: ['"a"', '"t7"', '42', '-0', '2.25e0', 'true', 'false', 'null', '[1]', '{"a":1}'],
    },
    arr: { type: sql`int4[]`, values: ['{1}', '{}'] },
  },
  sqlite: {
    n: { type: sql`integer`, values: [...INTS, '9007199254740993', 1.5, 'abc', '01'] },
    txt: { type: sql`text`, values: [...TEXTS, INVALID_UTF8, INVALID_AFTER_A] },
    nocase: { type: sql`text collate nocase`, values: [...TEXTS, INVALID_AFTER_A] },
    rtrim: { type: sql`text collate rtrim`, values: ['a', 'a ', 'A', 'a\ufffd', INVALID_AFTER_A] },
    dbl: {
      type: sql`real`,
      values: [...DOUBLES, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '1.5', 'x'],
    },
    flag: { type: sql`boolean`, values: [true, false] },
    // No type: each value keeps its storage class.
    anyv: {
      type: sql`blob`,
      values: [
        1,
        1.5,
        '1',
        '1.5',
        'a',
        0.1,
        -0,
        1e21,
        2 ** 60,
        9_007_199_254_740_993n,
        new Uint8Array([0x61]),
        INVALID_AFTER_A,
        'x\ufffdy',
      ],
    },
  },
  mysql: {
    n: { type: sql`int`, values: INTS },
    big: {
      type: sql`bigint`,
      values: ['0', '42', '9007199254740993', '9223372036854775807', '-9223372036854775808'],
    },
    ubig: { type: sql`bigint unsigned`, values: ['0', '42', '18446744073709551615'] },
    txt: { type: sql`varchar(32)`, values: TEXTS },
    bin: { type: sql`varchar(32) collate utf8mb4_bin`, values: TEXTS },
    lat: {
      type: sql`varchar(32) character set latin1`,
      values: ['', 'a', 'A', 'a ', 'é', '0', '1', '01', '1.5', 'Infinity'],
    },
    dbl: { type: sql`double`, values: DOUBLES },
    flt: { type: sql`float`, values: [0, 1, 1.5, 0.1, -2.25, 100_000, 1e20] },
    num: { type: sql`decimal(20, 6)`, values: ['0', '1.5', '42', '-0.001', '7.5'] },
    flag: { type: sql`boolean`, values: [true, false] },
    d: { type: sql`date`, values: ['1970-01-01', '2026-03-29', '2000-02-29', '0000-00-00'] },
    dt: {
      type: sql`datetime(6)`,
      values: [
        '1970-01-01 00:00:00',
        '1970-01-01 00:00:00.001500',
        '2026-03-29 01:30:00.123',
        '2000-02-29 00:00:00',
        '0000-00-00 00:00:00',
      ],
    },
    en: { type: sql`enum('a', 'b', '1')`, values: ['a', 'b', '1'] },
    uid: { type: sql`uuid`, values: UUIDS },
    yr: { type: sql`year`, values: [2026, 1999] },
    vb: { type: sql`varbinary(8)`, values: ['a'] },
  },
}

/** The k-th value of a long list: the listed values first, then values of every kind. */
function listValue(k: number): unknown {
  if (k < LIST_VALUES.length) return LIST_VALUES[k]
  switch (k % 8) {
    case 0:
      return String(k * 3)
    case 1:
      return `t${k}`
    case 2:
      return k + 0.5
    case 3:
      return BigInt(k * 1000)
    case 4:
      return new Date(k * 1000)
    case 5:
      return `x\ufffd${k}`
    case 6:
      return LIST_VALUES[k % LIST_VALUES.length]
    default:
      return k * 3
  }
}

for (const engine of testEngines()) {
  const columns = COLUMNS[engine.engine]
  const names = Object.keys(columns)
  if (engine.skip) console.info(engine.skip)
  if (engine.skip === undefined && names.length > 0) {
    describe(`in over a principal's list of any length on ${engine.title}`, () => {
      const zone = process.env.TZ
      beforeAll(() => {
        // node-postgres reads a date or timestamp in this process's zone.
        process.env.TZ = 'Europe/Paris'
      })
      afterAll(() => {
        if (zone === undefined) delete process.env.TZ
        else process.env.TZ = zone
      })
      const database = privateTestDatabase<ListDb>(engine, async (db) => {
        if (engine.engine === 'postgres') {
          await sql`create type mood as enum ('a', 'b', '1')`.execute(db)
        }
        const definitions = names.map((name) => sql`${sql.id(name)} ${columns[name]?.type}`)
        await sql`create table item (id int primary key, ${sql.join(definitions)})`.execute(db)
      })
      const accessTo = new Map<string, AccessControl<ListDb, Holder, RuleAction>>()
      const access = async (column: string) => {
        let found = accessTo.get(column)
        if (found === undefined) {
          found = await AccessControl.create({
            policy: rulePolicy<ListDb, 'item', Holder>('item', (t, p) =>
              t.in(column as never, p.list as never),
            ),
            db: database.db,
          })
          accessTo.set(column, found)
        }
        return found
      }
      // Every value of each column, in rows of their own and beside each other.
      const rows = Array.from({ length: 12 }, (_, id) =>
        Object.fromEntries([
          ['id', id],
          ...names.map((name) => {
            const values = columns[name]?.values ?? []
            return [name, id === 11 ? null : values[(id * 5) % values.length]]
          }),
        ]),
      )

      for (const column of names) {
        it(`lets through in where() the rows can() does for ${LENGTH.toLocaleString('en')} values against ${column}`, async () => {
          const db = database.db
          const list = Array.from({ length: LENGTH }, (_, k) => listValue(k))
          await insertWorld(db, { item: rows })
          try {
            await expectRuleAgrees({
              access: await access(column),
              db,
              resource: 'item',
              principal: { list },
              actions: ['read', 'hide'],
              title: column,
            })
          } finally {
            await clearWorld(db, { item: [] })
          }
        })
      }

      it('lets through in where() the rows can() does for any list against any column', async () => {
        const db = database.db
        const row = fc.record(
          Object.fromEntries(
            names.map((name) => [
              name,
              fc.option(fc.constantFrom(...(columns[name]?.values ?? [])), { nil: null }),
            ]),
          ),
        )
        const value = fc.oneof(
          fc.constantFrom(...LIST_VALUES),
          fc.integer(),
          fc.bigInt(),
          fc.double({ noNaN: true }),
          fc.string({ unit: 'binary' }).filter(isComparable),
          fc.date({ noInvalidDate: true }),
        )
        await fc.assert(
          fc.asyncProperty(
            fc.array(row, { minLength: 1, maxLength: 6 }),
            fc.array(fc.option(value, { nil: null, freq: 10 }), { maxLength: 12 }),
            // A few long lists, past the engines' parameter limits, repeating the short one.
            fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 40_000),
            fc.constantFrom(...names),
            async (items, short, length, column) => {
              const list = short.concat(
                Array.from({ length }, (_, k) =>
                  k % 2 === 0 ? short[k % short.length] : listValue(k),
                ),
              )
              await insertWorld(db, { item: items.map((item, id) => ({ ...item, id })) })
              try {
                await expectRuleAgrees({
                  access: await access(column),
                  db,
                  resource: 'item',
                  principal: { list },
                  actions: ['read', 'hide'],
                  title: column,
                })
              } finally {
                await clearWorld(db, { item: [] })
              }
            },
          ),
          { numRuns: 60 },
        )
      }, 180_000)
    })
  }
}

for (const engine of testEngines().filter((each) => each.engine !== 'mysql')) {
  if (engine.skip === undefined) {
    describe(`in over a principal's list on ${engine.title}`, () => {
      const database = privateTestDatabase<ListDb>(engine, async (db) => {
        await sql`create table item (id int primary key, n integer, txt varchar(32))`.execute(db)
        await insertWorld(db, {
          item: Array.from({ length: 60 }, (_, k) => ({ id: k, n: k * 3, txt: `t${k}` })),
        })
      })
      it('looks the list up in an index of the column, as it does one value', async () => {
        const db = database.db
        // A text holding U+FFFD adds a range of the column (sqliteInList), which SQLite may find
        // dearer than a scan of a small table.
        const list = Array.from({ length: 1000 }, (_, k) => listValue(k)).filter(
          (value) => typeof value !== 'string' || !value.includes('\ufffd'),
        )
        const access = await AccessControl.create({
          policy: definePolicy<ListDb, Holder, 'read'>()
            .allow('read', 'item', (t, p) => t.in('n' as never, p.list as never))
            .allow('read', 'item', (t, p) => t.in('txt' as never, p.list as never))
            .build(),
          db,
        })
        await sql`create index item_n on item (n)`.execute(db)
        await sql`create index item_txt on item (txt)`.execute(db)
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
      })
    })
  }
}
