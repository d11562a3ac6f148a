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
import { nextDouble } from './numeral-order.js'
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

/** The exact decimal of the point halfway between finite `x` and the double above it in magnitude. */
function halfwayAbove(x: number): string {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, Math.abs(x))
  const bits = view.getBigUint64(0)
  const biased = Number(bits >> 52n)
  const fraction = bits & ((1n << 52n) - 1n)
  // |x| = m × 2^e, so the halfway point is (2m + 1) × 2^(e - 1).
  const m = biased === 0 ? fraction : fraction | (1n << 52n)
  const e = (biased === 0 ? 1 : biased) - 1075
  const odd = 2n * m + 1n
  const sign = x < 0 ? '-' : ''
  if (e - 1 >= 0) return `${sign}${odd << BigInt(e - 1)}`
  const places = 1 - e
  const digits = (odd * 5n ** BigInt(places)).toString().padStart(places + 1, '0')
  const point = digits.length - places
  return `${sign}${digits.slice(0, point)}.${digits.slice(point).replace(/0+$/, '')}`
}

// Numerals of any length (past a double's range, below its smallest), and the points where
// JavaScript's Number() turns from one double to the next, which an engine's own conversion
// may round the other way: in a text column wide enough for them.
const longNumeral = fc.oneof(
  double.filter((x) => x !== Number.MAX_VALUE && x !== -Number.MAX_VALUE).map(halfwayAbove),
  fc.constantFrom(
    halfwayAbove(Number.MAX_VALUE),
    `-${halfwayAbove(Number.MAX_VALUE)}`,
    `${halfwayAbove(Number.MAX_VALUE)}.5`,
    `1${'0'.repeat(400)}`,
    `-1${'0'.repeat(400)}.5`,
    `0.${'0'.repeat(400)}1`,
    `-0.${'0'.repeat(400)}1`,
    halfwayAbove(0),
    `${halfwayAbove(0)}1`,
  ),
  fc
    .tuple(fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }), fc.nat(40))
    .map(([digits, places]) => {
      const text = (digits < 0n ? -digits : digits).toString().padStart(places + 1, '0')
      const point = text.length - places
      return `${digits < 0n ? '-' : ''}${text.slice(0, point)}${places > 0 ? `.${text.slice(point)}` : ''}`
    }),
)

// A principal's value may be of any kind, whatever the rule's type says.
const value: fc.Arbitrary<unknown> = fc.oneof(
  double,
  integer,
  // Integers as the doubles nearest them, past 2^53 too.
  integer.map(Number),
  text,
  longNumeral,
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
    double.filter((x) => Math.abs(x) < 1e20 && (x === 0 || Math.abs(x) > 1e-9)).map(String),
    // Past a double's precision: the point check reads '0.100000000000000005' as the double 0.1.
    fc
      .tuple(fc.bigInt({ min: -(10n ** 28n) + 1n, max: 10n ** 28n - 1n }), fc.nat(12))
      .map(([digits, places]) => {
        const text = (digits < 0n ? -digits : digits).toString().padStart(places + 1, '0')
        const point = text.length - places
        return `${digits < 0n ? '-' : ''}${text.slice(0, point)}${places > 0 ? `.${text.slice(point)}` : ''}`
      }),
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
    any:
      engine === 'sqlite'
        ? fc.oneof(double, integer, text, longNumeral)
        : fc.oneof(text, longNumeral),
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
      return text.length <= 64 ? text : undefined
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
type Op = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'in' | 'nin'
const OPS: readonly Op[] = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'nin']
type Builder = ConditionBuilder<NumbersDb, 'numbers'>

// A row's value as a principal may hold it: as it is, or of another kind (the number a numeral
// spells, the integer of its digits, a number's text), or the doubles on either side of it, so
// that values equal to a row's or just past it are drawn whatever kinds they come in.
const retype = fc.constantFrom<(value: unknown) => unknown>(
  (value) => value,
  (value) => Number(value),
  (value) => {
    const text = String(value)
    return /^-?\d+$/.test(text) ? BigInt(text) : Number(value)
  },
  (value) => String(value),
  (value) => nextDouble(Number(value), true),
  (value) => nextDouble(Number(value), false),
)

function compared(t: Builder, p: PrincipalRefs<Principal>, op: Op, column: Column) {
  if (op === 'in') return t.in(column, p.list)
  if (op === 'nin') return t.not(t.in(column, p.list))
  return (t[op] as (c: Column, v: unknown) => Condition<'numbers'>)(column, p.value)
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

    it('compare a column of any kind with a value of any kind as the point check does, for every operator', async () => {
      await fc.assert(
        fc.asyncProperty(
          world,
          fc.constantFrom(...OPS),
          fc.constantFrom(...COLUMNS),
          value,
          fc.array(value, { maxLength: 3 }),
          fc.option(fc.tuple(fc.nat(), fc.constantFrom(...COLUMNS), retype), { nil: undefined }),
          async (rows, op, column, drawn, list, own) => {
            // Often a row's own value, retyped, so that some row equals it or lies next to it.
            const all = rows.numbers ?? []
            const source = own && all[own[0] % all.length]?.[own[1]]
            const target = own && source !== null && source !== undefined ? own[2](source) : drawn
            await expectAgreement(database.kysely, rows, (t, p) => compared(t, p, op, column), {
              value: target,
              list: [...list, target],
            })
          },
        ),
        { numRuns: 1500 },
      )
    }, 600_000)

    it('tests a bigint column against an in list with a number past 2^53 as the point check does', async () => {
      // The double 39293198896550888 is written '39293198896550890': the point check's int8
      // '39293198896550888' (a string) is not its text.
      for (const op of ['in', 'nin', 'eq', 'ne'] as const) {
        await expectAgreement(
          database.kysely,
          {
            numbers: [
              { id: 1, txt: null, int: '39293198896550888', dbl: null, dec: null, any: null },
              { id: 2, txt: null, int: '39293198896550890', dbl: null, dec: null, any: null },
            ],
          },
          (t, p) => compared(t, p, op, 'int'),
          { value: 39293198896550888, list: [39293198896550888, 0n] },
        )
      }
    })

    it('orders zero, numerals past 65 digits and halfway points against the extreme doubles as the point check does', async () => {
      // MariaDB's decimal(65, 30) made 5e-324 zero; SQLite's cast rounds a halfway point the
      // other way; PostgreSQL's numeric compared the numeral exactly.
      const rows = [
        { id: 1, txt: '0', int: '0', dbl: null, dec: '0', any: halfwayAbove(5e-324) },
        { id: 2, txt: '-0.0', int: '-1', dbl: null, dec: '0.1', any: `1${'0'.repeat(70)}` },
        { id: 3, txt: '0.1', int: '1', dbl: null, dec: '-0.5', any: halfwayAbove(0.1) },
      ]
      for (const bound of [5e-324, -5e-324, 0.1, 1e70, Number.MAX_VALUE, '0.1']) {
        for (const op of ['lt', 'lte', 'gt', 'gte'] as const) {
          for (const column of COLUMNS.filter((name) => name !== 'dbl')) {
            await expectAgreement(
              database.kysely,
              { numbers: rows },
              (t, p) => compared(t, p, op, column),
              { value: bound, list: [] },
            )
          }
        }
      }
    }, 120_000)

    it('tests a decimal whose text fills its scale against that text as the point check does', async () => {
      // MariaDB read a constant `cast('1.500000000000' as binary)` beside a DECIMAL as 2 (no
      // decimals), so the index term beside the byte comparison left out the row it matched.
      const texts = ['-2702.334955816966', '1.500000000000', '0.100000000000']
      const numbers = texts.map((dec, index) => ({
        id: index + 1,
        ...{ txt: null, int: null, dbl: null, any: null },
        dec,
      }))
      for (const text of texts) {
        for (const op of ['eq', 'ne', 'in', 'nin'] as const) {
          await expectAgreement(database.kysely, { numbers }, (t, p) => compared(t, p, op, 'dec'), {
            value: text,
            list: [text],
          })
        }
      }
    })

    it('orders a numeral that Number() reads as Infinity against no Date, as text', async () => {
      const huge = `${halfwayAbove(Number.MAX_VALUE)}.5`
      for (const op of ['lt', 'gt'] as const) {
        await expectAgreement(
          database.kysely,
          { numbers: [{ id: 1, txt: null, int: null, dbl: null, dec: null, any: huge }] },
          (t, p) => compared(t, p, op, 'any'),
          { value: new Date(2026, 0, 1), list: [] },
        )
      }
    })

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
