import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { CompiledQuery, type Kysely, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { clearWorld, insertWorld, type World } from '../testing/policy-agreement.js'
import { expectRuleAgrees, privateTestDatabase, rulePolicy } from '../testing/rule-agreement.js'
import { definePolicy } from './define-policy.js'

type LooseDb = Record<string, Record<string, unknown>>
type Principal = { value: never; list: never }
const OPERATORS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in', 'isNull', 'isNotNull'] as const
type Operator = (typeof OPERATORS)[number]
const ACTIONS = ['read', 'hide', 'link', 'unlink'] as const

/**
 * `column op value` allowed ('read') and denied ('hide'), and a relation linking two columns
 * ('link') and its negation ('unlink'), agree between can and where on `rows`, inserted by
 * `insert` (on MariaDB, in a session whose sql_mode lets zero dates in), in a table `times`.
 */
async function expectReadsAgree(
  db: Kysely<LooseDb>,
  insert: (rows: World) => Promise<void>,
  rows: World,
  column: string,
  op: Operator,
  value: unknown,
  [inner, outer]: readonly [string, string],
): Promise<void> {
  const policy = rulePolicy<LooseDb, 'times', Principal>(
    'times',
    (t, p) =>
      op === 'in'
        ? t.in(column, p.list)
        : op === 'isNull' || op === 'isNotNull'
          ? t[op](column)
          : t[op](column, p.value),
    [inner, outer],
  )
  const access = await AccessControl.create({ policy, db })
  const principal = { value, list: [value] } as Principal
  await insert(rows)
  try {
    await expectRuleAgrees({
      access,
      db,
      resource: 'times',
      principal,
      actions: ACTIONS,
      title: `${column} ${op} ${String(value)}, link ${inner} ${outer}`,
    })
  } finally {
    await clearWorld(db, rows)
  }
}

const utc = (text: string) => new Date(text)
// Dates around the rows' values: to the millisecond of a row's microseconds, the dates mysql2
// read impossible ones as (2024-02-31 as 2024-03-02, 0000-00-00 as 1899-11-30, 0050 as 1950),
// the first and last of MariaDB's years and beyond them.
const DATES = [
  utc('2026-01-01T10:00:00.000Z'),
  utc('2026-01-01T10:00:00.001Z'),
  utc('2026-01-01T10:00:00.123Z'),
  utc('2026-01-01T10:00:00.124Z'),
  utc('2026-01-01T00:00:00.000Z'),
  utc('2024-03-02T00:00:00.000Z'),
  utc('2024-03-02T10:00:00.000Z'),
  utc('2024-02-29T00:00:00.000Z'),
  utc('1899-11-30T00:00:00.000Z'),
  utc('1950-06-01T00:00:00.000Z'),
  utc('0050-06-01T00:00:00.000Z'),
  utc('0000-01-01T00:00:00.000Z'),
  utc('9999-12-31T23:59:59.999Z'),
  utc('+010000-01-01T00:00:00.000Z'),
  utc('-000005-01-01T00:00:00.000Z'),
]
const VALUES: readonly unknown[] = [...DATES, Infinity, -Infinity, 'abc', '2026-01-01', 0, 1]

const mysql = testEngines().find((engine) => engine.engine === 'mysql')

describe.skipIf(mysql?.skip !== undefined)(
  'dates no calendar holds, and microseconds, on MariaDB',
  () => {
    if (mysql?.skip) console.info(mysql.skip)
    const database = privateTestDatabase<LooseDb>(
      mysql as NonNullable<typeof mysql>,
      async (db) => {
        await sql`create table times (id int primary key, day date not null, dd date, at datetime(6), ts timestamp(6) null)`.execute(
          db,
        )
      },
    )

    // MariaDB's default sql_mode (CI's) lets '0000-00-00' and zero months and days in; a 31st of
    // February needs ALLOW_INVALID_DATES. Only the insert runs so: the checks run in core's
    // session.
    const insert = (rows: World) =>
      database.db.connection().execute(async (db) => {
        await sql`set session sql_mode = 'ALLOW_INVALID_DATES'`.execute(db)
        for (const row of rows.times ?? []) await db.insertInto('times').values(row).execute()
      })
    const DAYS = [
      '0000-00-00',
      '2024-00-10',
      '2024-02-00',
      '2024-02-31',
      '2024-02-29',
      '0050-06-01',
    ]
    const MORE_DAYS = ['0000-01-01', '9999-12-31', '2026-01-01', '2024-03-02', '1899-11-30']
    const TIMES = [
      '0000-00-00 00:00:00',
      '2024-00-01 10:00:00',
      '2024-02-31 10:00:00',
      '2026-01-01 10:00:00.000500',
      '2026-01-01 10:00:00.123999',
      '2026-01-01 00:00:00',
      '0050-06-01 00:00:00',
      '9999-12-31 23:59:59.999999',
    ]
    const STAMPS = [
      '0000-00-00 00:00:00',
      '2026-01-01 10:00:00.000500',
      '2026-01-01 10:00:00.123456',
      '2026-01-01 10:00:00',
    ]
    const COLUMNS = ['day', 'dd', 'at', 'ts'] as const
    const column = fc.constantFrom(...COLUMNS)
    const rows = fc
      .array(
        fc.record({
          day: fc.constantFrom(...DAYS, ...MORE_DAYS),
          dd: fc.option(fc.constantFrom(...DAYS, ...MORE_DAYS), { nil: null }),
          at: fc.option(fc.constantFrom(...TIMES), { nil: null }),
          ts: fc.option(fc.constantFrom(...STAMPS), { nil: null }),
        }),
        { minLength: 1, maxLength: 6 },
      )
      .map((list) => ({ times: list.map((row, index) => ({ id: index + 1, ...row })) }))

    it('compare, test for NULL and link zero, impossible and early dates and microseconds as the point check does', async () => {
      const world = {
        times: [
          {
            id: 1,
            day: '0000-00-00',
            dd: '2024-00-10',
            at: '2024-02-31 10:00:00',
            ts: '0000-00-00 00:00:00',
          },
          {
            id: 2,
            day: '0050-06-01',
            dd: '2024-02-31',
            at: '2026-01-01 10:00:00.000500',
            ts: '2026-01-01 10:00:00.123456',
          },
        ],
      }
      const cases: readonly (readonly [string, Operator, unknown])[] = [
        ['day', 'lt', utc('2026-01-01T00:00:00Z')],
        ['day', 'ne', utc('2026-01-01T00:00:00Z')],
        ['day', 'ne', 'abc'],
        ['day', 'isNull', null],
        ['day', 'eq', utc('1950-06-01T00:00:00Z')],
        ['dd', 'eq', utc('2024-03-02T00:00:00Z')],
        ['dd', 'gt', utc('2024-02-29T00:00:00Z')],
        ['at', 'eq', utc('2024-03-02T10:00:00Z')],
        ['at', 'eq', utc('2026-01-01T10:00:00Z')],
        ['at', 'gt', utc('2026-01-01T10:00:00Z')],
        ['ts', 'lte', utc('2026-01-01T10:00:00.123Z')],
        ['ts', 'lt', Infinity],
        ['at', 'lt', utc('+010000-01-01T00:00:00Z')],
        ['at', 'gt', utc('-000005-01-01T00:00:00Z')],
      ]
      for (const [name, op, value] of cases) {
        await expectReadsAgree(database.db, insert, world, name, op, value, [name, 'at'])
      }
    })

    it('agree on random rows of zero, impossible and early dates and microseconds', async () => {
      await fc.assert(
        fc.asyncProperty(
          rows,
          column,
          fc.constantFrom(...OPERATORS),
          fc.constantFrom(...VALUES),
          fc.tuple(column, column),
          (world, name, op, value, link) =>
            expectReadsAgree(database.db, insert, world, name, op, value, link),
        ),
        { numRuns: 80 },
      )
    }, 180_000)

    // `case when <a date of the calendar> then col < ? end` was served by no range of an index:
    // MariaDB read the whole index for every date rule.
    it('looks a Date up in an index of the column', async () => {
      const db = database.db
      const day = (n: number) => new Date(Date.UTC(2026, 0, 1) + n * 86_400_000)
      const world = {
        times: Array.from({ length: 300 }, (_, n) => ({
          id: n + 1,
          day: day(n),
          dd: null,
          at: day(n),
          ts: day(n),
        })),
      }
      await insertWorld(db, world)
      try {
        for (const name of ['day', 'at', 'ts'] as const) {
          await sql`create index ${sql.id(`times_${name}`)} on times (${sql.id(name)})`.execute(db)
        }
        await sql`analyze table times`.execute(db)
        const cases: readonly (readonly ['lt' | 'lte' | 'gt' | 'gte' | 'eq', Date, number])[] = [
          ['lt', day(3), 3],
          ['lte', day(3), 4],
          ['gt', day(296), 3],
          ['gte', day(296), 4],
          ['eq', day(150), 1],
        ]
        for (const name of ['day', 'at', 'ts'] as const) {
          for (const [op, value, count] of cases) {
            const access = await AccessControl.create({
              policy: definePolicy<LooseDb, Principal>()
                .allow('read', 'times', (t, p) => t[op](name, p.value))
                .build(),
              db,
            })
            const query = db
              .selectFrom('times')
              .select('id')
              .where(access.where({ value } as Principal, 'read', 'times'))
            expect(await query.execute(), `${name} ${op}`).toHaveLength(count)
            const { sql: text, parameters } = query.compile()
            const plan = await db.executeQuery<{ type: string; key: string | null }>(
              CompiledQuery.raw(`explain ${text}`, [...parameters]),
            )
            expect(
              plan.rows.map((row) => [row.type, row.key]),
              `${name} ${op}`,
            ).toEqual([['range', `times_${name}`]])
          }
        }
      } finally {
        await clearWorld(db, world)
        for (const name of ['day', 'at', 'ts'] as const) {
          await sql`drop index if exists ${sql.id(`times_${name}`)} on times`.execute(db)
        }
      }
    })
  },
)

const postgres = testEngines().find((engine) => engine.engine === 'postgres')

describe.skipIf(postgres?.skip !== undefined)(
  'microseconds and the first years on PostgreSQL',
  () => {
    if (postgres?.skip) console.info(postgres.skip)
    const database = privateTestDatabase<LooseDb>(
      postgres as NonNullable<typeof postgres>,
      async (db) => {
        await sql`create table times (id int primary key, at timestamp, atz timestamptz, day date)`.execute(
          db,
        )
      },
    )

    const insert = (rows: World) => insertWorld(database.db, rows)
    // Microseconds, which node-postgres cuts to the millisecond, infinities, and the first day
    // PostgreSQL holds (4714-11-24 BC), before which a Date was refused as input (a 500).
    const TIMES = [
      '2026-01-01 10:00:00.000500',
      '2026-01-01 10:00:00.123999',
      '2026-01-01 10:00:00',
      '2026-01-01 00:00:00',
      'infinity',
      '-infinity',
      '4714-11-24 00:00:00 BC',
      '0050-06-01 00:00:00',
    ]
    const DAYS = ['2026-01-01', '4714-11-24 BC', 'infinity', '-infinity', '0050-06-01']
    const EARLIEST = new Date(-8.64e15)
    const COLUMNS = ['at', 'atz', 'day'] as const
    const column = fc.constantFrom(...COLUMNS)
    const rows = fc
      .array(
        fc.record({
          at: fc.option(fc.constantFrom(...TIMES), { nil: null }),
          atz: fc.option(
            fc.constantFrom(
              ...TIMES.map((time) =>
                time.includes(':') ? time.replace(/( BC)?$/, '+00$1') : time,
              ),
            ),
            { nil: null },
          ),
          day: fc.option(fc.constantFrom(...DAYS), { nil: null }),
        }),
        { minLength: 1, maxLength: 6 },
      )
      .map((list) => ({ times: list.map((row, index) => ({ id: index + 1, ...row })) }))

    it('compare and link timestamps with microseconds, and Dates before the first day, as the point check does', async () => {
      const local = (text: string) => {
        const [day = '', time = '00:00:00.000'] = text.split('T')
        const [year, month, date] = day.split('-').map(Number) as [number, number, number]
        const [hours, minutes, seconds] = time.split(':').map(Number) as [number, number, number]
        return new Date(
          year,
          month - 1,
          date,
          hours,
          minutes,
          Math.floor(seconds),
          Math.round((seconds % 1) * 1000),
        )
      }
      const world = {
        times: [
          {
            id: 1,
            at: '2026-01-01 10:00:00.000500',
            atz: '2026-01-01 10:00:00.000500+00',
            day: '2026-01-01',
          },
          {
            id: 2,
            at: '2026-01-01 10:00:00.123999',
            atz: '2026-01-01 10:00:00.123999+00',
            day: null,
          },
          { id: 3, at: 'infinity', atz: '-infinity', day: 'infinity' },
        ],
      }
      const cases: readonly (readonly [string, Operator, unknown])[] = [
        ['at', 'eq', local('2026-01-01T10:00:00.000')],
        ['at', 'gt', local('2026-01-01T10:00:00.000')],
        ['at', 'lte', local('2026-01-01T10:00:00.123')],
        ['atz', 'eq', utc('2026-01-01T10:00:00.000Z')],
        ['atz', 'gt', utc('2026-01-01T10:00:00.123Z')],
        ['atz', 'gt', EARLIEST],
        ['at', 'ne', EARLIEST],
        ['day', 'lt', EARLIEST],
        // Read back as the number Infinity, which orders against numbers and equals its text.
        ['day', 'lte', 1],
        ['at', 'eq', 'Infinity'],
        ['atz', 'gt', '-5'],
      ]
      for (const [name, op, value] of cases) {
        await expectReadsAgree(database.db, insert, world, name, op, value, [name, 'at'])
      }
      await expectReadsAgree(database.db, insert, world, 'atz', 'eq', EARLIEST, ['at', 'atz'])
    })

    it('agree on random rows of microseconds, infinities and the first day', async () => {
      await fc.assert(
        fc.asyncProperty(
          rows,
          column,
          fc.constantFrom(...OPERATORS),
          fc.constantFrom(...VALUES, EARLIEST, new Date(Date.parse('-004713-11-24T00:00:00Z') - 1)),
          fc.tuple(column, column),
          (world, name, op, value, link) =>
            expectReadsAgree(database.db, insert, world, name, op, value, link),
        ),
        { numRuns: 80 },
      )
    }, 180_000)
  },
)

describe.skipIf(postgres?.skip !== undefined)('columns of a domain on PostgreSQL', () => {
  if (postgres?.skip) console.info(postgres.skip)
  const database = privateTestDatabase<LooseDb>(
    postgres as NonNullable<typeof postgres>,
    async (db) => {
      // node-postgres reads a domain's column as its base type, nested domains too.
      for (const statement of [
        sql`create domain flag as boolean`,
        sql`create domain flag2 as flag`,
        sql`create domain stamp as timestamptz`,
        sql`create domain doc as jsonb`,
        sql`create domain amount as int4`,
        sql`create table times (id int primary key, flag flag, flag2 flag2, stamp stamp, doc doc, amount amount)`,
      ]) {
        await statement.execute(db)
      }
    },
  )

  it('compare a domain column as its base type, as node-postgres reads it', async () => {
    const at = utc('2026-01-01T10:00:00.000Z')
    const world = {
      times: [
        { id: 1, flag: true, flag2: true, stamp: at, doc: '1', amount: 42 },
        { id: 2, flag: false, flag2: null, stamp: null, doc: '"abc"', amount: null },
      ],
    }
    const cases: readonly (readonly [string, Operator, unknown])[] = [
      ['flag', 'eq', true],
      ['flag2', 'ne', true],
      ['stamp', 'eq', at],
      ['stamp', 'gt', utc('2025-01-01T00:00:00.000Z')],
      ['doc', 'eq', 1],
      ['doc', 'eq', 'abc'],
      ['amount', 'eq', '042'],
      ['amount', 'lt', 50],
    ]
    const insert = (rows: World) => insertWorld(database.db, rows)
    for (const [name, op, value] of cases) {
      await expectReadsAgree(database.db, insert, world, name, op, value, [name, 'flag'])
    }
  })
})
