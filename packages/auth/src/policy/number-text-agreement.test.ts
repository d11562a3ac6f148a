import { Database, type DatabaseEngine } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import {
  clearWorld,
  findDisagreement,
  insertWorld,
  type World,
} from '../testing/policy-agreement.js'
import type { Condition, ConditionBuilder } from './condition.js'
import { definePolicy } from './define-policy.js'
import type { PrincipalRefs } from './principal-ref.js'

// Numbers whose text each engine writes otherwise than JavaScript's String(): SQLite's
// '1.0e+21', '0.333333333333333' and '1.0e-07', PostgreSQL's '1e+15' and '1e-05', MariaDB's
// '1e15', '1e21' and '0.0000001'; doubles whose shortest text is not their digits (2^60 is
// 1152921504606846976, 39293198896550888 is written 39293198896550890); -0; the doubles at the
// ends of the range.
const DOUBLES = [
  0,
  -0,
  1,
  -1,
  0.1,
  1.5,
  1 / 3,
  2 / 3,
  1e-5,
  1e-6,
  1e-7,
  1e15,
  1e16,
  1e20,
  1e21,
  1e22,
  -1e21,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 60,
  2 ** 63,
  2 ** 70,
  39293198896550888,
  0.30000000000000004,
  123456789.123,
  1.7976931348623157e308,
  5e-324,
  2.2250738585072014e-308,
]
const INTEGERS = [
  0n,
  1n,
  -1n,
  2n ** 53n,
  2n ** 53n + 1n,
  2n ** 60n,
  2n ** 60n + 1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  39293198896550888n,
  39293198896550890n,
  10n ** 15n,
  10n ** 16n,
]
// Texts that spell a number in some engine's eyes: each number's JavaScript text and the texts
// engines write for it, and near misses.
const NUMBER_TEXTS = [
  ...DOUBLES.map(String),
  ...INTEGERS.map(String),
  ...['1.0', '01', '+1', ' 1', '1 ', '1e0', '1e21', '1.0e+21', '1e15', '1e+15', '1e-05', '1e-07'],
  ...['0.0000001', '0.333333333333333', '1152921504606846976', '1.152921504606847e+18'],
  ...['-0', '-0.0', 'Infinity', '-Infinity', 'NaN', 'abc', ''],
]

const double = fc.oneof(
  fc.constantFrom(...DOUBLES),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
)
const integer = fc.oneof(
  fc.constantFrom(...INTEGERS),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.integer().map(BigInt),
)
const text = fc.oneof(fc.constantFrom(...NUMBER_TEXTS), double.map(String), integer.map(String))

// A principal's value may be of any kind, whatever the rule's type says.
const value: fc.Arbitrary<unknown> = fc.oneof(
  double,
  integer,
  text,
  fc.constantFrom(Infinity, -Infinity, Number.NaN, true, false, new Date(2026, 0, 1)),
)

interface NumbersTable {
  id: number
  txt: string | null
  int: string | null
  dbl: number | null
  dec: string | null
  any: unknown
}
interface NumbersDb {
  numbers: NumbersTable
}
type Column = Exclude<keyof NumbersTable, 'id'>
const COLUMNS: readonly Column[] = ['txt', 'int', 'dbl', 'dec', 'any']

/** Values each engine stores in a column of each kind, as they are inserted. */
function columnValues(engine: DatabaseEngine): Record<Column, fc.Arbitrary<unknown>> {
  // MariaDB and PostgreSQL's numeric hold a number's digits; MariaDB's DOUBLE no infinity.
  const decimal = fc.oneof(
    fc.constantFrom('0', '1', '-1', '1.5', '1.50', '0.1', '1000000000000000', '1e21'),
    double
      .filter((x) => Math.abs(x) < 1e20 && (x === 0 || Math.abs(x) > 1e-9))
      .map(String)
      // Within a double's precision: past it, a DECIMAL's text orders otherwise (left open).
      .filter((t) => t.replace(/[-.]|^[-0.]+/g, '').length <= 15),
  )
  const finite = double
  const real = engine === 'mysql' ? finite : fc.oneof(finite, fc.constantFrom(Infinity, -Infinity))
  return {
    txt: text,
    int: integer.map(String),
    dbl: real,
    dec:
      engine === 'sqlite'
        ? fc.oneof(decimal, text, double)
        : decimal.filter((t) => !t.includes('e')),
    // A column SQLite gives no affinity, which keeps each value's own kind; elsewhere text.
    any: engine === 'sqlite' ? fc.oneof(double, integer, text) : text,
  }
}

function worldOn(engine: DatabaseEngine): fc.Arbitrary<World> {
  const values = columnValues(engine)
  const row = fc.record(
    Object.fromEntries(
      COLUMNS.map((column) => [column, fc.option(values[column], { nil: null })]),
    ) as Record<Column, fc.Arbitrary<unknown>>,
  )
  return fc
    .array(row, { minLength: 1, maxLength: 6 })
    .map((rows) => ({ numbers: rows.map((fields, index) => ({ id: index + 1, ...fields })) }))
}

/** `value` as column `column` takes it on `engine`, or `undefined` where it would refuse it. */
function fits(engine: DatabaseEngine, column: Column, value: unknown): unknown {
  if (value === null || value === undefined) return undefined
  if (engine === 'sqlite') return value
  const text = String(value)
  switch (column) {
    case 'txt':
    case 'any':
      return text
    case 'int':
      return /^-?\d+$/.test(text) && BigInt(text) < 2n ** 63n && BigInt(text) >= -(2n ** 63n)
        ? text
        : undefined
    case 'dbl': {
      const number = Number(value)
      return Number.isNaN(number) || (engine === 'mysql' && !Number.isFinite(number))
        ? undefined
        : number
    }
    case 'dec':
      return /^-?\d{1,20}(\.\d{1,12})?$/.test(text) ? text : undefined
  }
}

type Principal = { value: never; list: never }
type Op = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'in'
type Builder = ConditionBuilder<NumbersDb, 'numbers'>

function unsafeIntegerInBigintList(
  engine: DatabaseEngine,
  op: string,
  column: string,
  list: readonly unknown[],
): boolean {
  return (
    engine === 'postgres' &&
    op === 'in' &&
    column === 'int' &&
    list.some((v) => typeof v === 'number' && Number.isInteger(v) && !Number.isSafeInteger(v))
  )
}

async function expectAgreement(
  db: Kysely<NumbersDb>,
  rows: World,
  condition: (t: Builder, p: PrincipalRefs<Principal>) => Condition<'numbers'>,
  principal: { value: unknown; list: unknown[] },
): Promise<void> {
  // 'read' lets the condition's rows through, 'hide' every row but those (a deny).
  const policy = definePolicy<NumbersDb, Principal, 'read' | 'hide'>({ roles: () => [] })
    .allow('read', 'numbers', condition)
    .allow('hide', 'numbers', true)
    .deny('hide', 'numbers', condition)
    .build()
  const access = await AccessControl.create({ policy, db })
  await insertWorld(db, rows)
  try {
    for (const action of ['read', 'hide'] as const) {
      const found = await findDisagreement({
        access,
        db,
        resource: 'numbers',
        action,
        key: 'id',
        principal: principal as unknown as Principal,
      })
      expect(found, action).toEqual({ onlyCan: [], onlyWhere: [] })
    }
  } finally {
    await clearWorld(db, rows)
  }
}

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(`numbers and their texts on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let database: Database<NumbersDb>
    let drop: () => Promise<void>
    const world = worldOn(engine.engine)

    beforeAll(async () => {
      const location = await privateDatabaseUrl(engine)
      drop = location.drop
      database = new Database<NumbersDb>(location.url)
      const types = {
        sqlite: { int: sql`integer`, dec: sql`numeric`, any: sql`blob` },
        postgres: { int: sql`bigint`, dec: sql`numeric`, any: sql`text` },
        mysql: { int: sql`bigint`, dec: sql`decimal(40, 12)`, any: sql`text` },
      }[engine.engine]
      await database.kysely.schema
        .createTable('numbers')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('txt', 'varchar(64)')
        .addColumn('int', types.int)
        .addColumn('dbl', 'double precision')
        .addColumn('dec', types.dec)
        .addColumn('any', types.any)
        .execute()
    })

    afterAll(async () => {
      await database?.destroy()
      await drop?.()
    })

    it('test a column of any kind for equality with a value of any kind as the point check does', async () => {
      await fc.assert(
        fc.asyncProperty(
          world,
          fc.constantFrom<Op>('eq', 'ne', 'in'),
          fc.constantFrom(...COLUMNS),
          value,
          fc.array(value, { maxLength: 3 }),
          fc.boolean(),
          async (rows, op, column, compared, list, own) => {
            // A row's own value too, so that some row equals it.
            const first = rows.numbers?.[0]?.[column]
            const target = own && first !== null && first !== undefined ? first : compared
            // Known gap, pinned by the test below: left out here so the rest is still drawn.
            fc.pre(!unsafeIntegerInBigintList(engine.engine, op, column, [...list, target]))
            await expectAgreement(
              database.kysely,
              rows,
              (t, p) =>
                op === 'in'
                  ? t.in(column, p.list)
                  : (t[op] as (c: Column, v: unknown) => Condition<'numbers'>)(column, p.value),
              { value: target, list: [...list, target] },
            )
          },
        ),
        { numRuns: 300 },
      )
    }, 180_000)

    if (engine.engine === 'postgres') {
      // Known gap (CI's fast-check run, seed 206532607): on PostgreSQL an `in` on a bigint column
      // whose list holds a JS number past 2^53 (39293198896550890, the double 39293198896550888)
      // lets through in SQL a row that `can()` denies. Fails while the gap is open; fix, then make
      // it a plain `it` and drop the property's fc.pre.
      it.fails('tests a bigint column against an in list with a number past 2^53 as the point check does', async () => {
        await expectAgreement(
          database.kysely,
          {
            numbers: [
              { id: 1, txt: null, int: '39293198896550888', dbl: null, dec: null, any: null },
            ],
          },
          (t, p) => t.in('int', p.list),
          { value: 0n, list: [39293198896550888, 0n] },
        )
      })
    }

    it('link two columns of any kinds as the point check does', async () => {
      await fc.assert(
        fc.asyncProperty(
          world,
          fc.constantFrom(...COLUMNS),
          fc.constantFrom(...COLUMNS),
          fc.boolean(),
          async (rows, inner, outer, negated) => {
            // Copies of one row's value into the other columns, so that links hold.
            const [first, ...rest] = rows.numbers ?? []
            const copy = first && fits(engine.engine, inner, first[outer])
            const linked =
              first && copy !== undefined
                ? { numbers: [first, ...rest, { ...first, id: 100, [inner]: copy }] }
                : rows
            await expectAgreement(
              database.kysely,
              linked,
              (t) =>
                t.exists('numbers', (s) =>
                  negated
                    ? s.not(s.matches(inner, outer as never))
                    : s.matches(inner, outer as never),
                ),
              { value: 0, list: [] },
            )
          },
        ),
        { numRuns: 300 },
      )
    }, 180_000)
  })
}
