import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { CompiledQuery, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { expectRuleAgrees, privateTestDatabase, rulePolicy } from '../testing/rule-agreement.js'
import { definePolicy } from './define-policy.js'

interface TimesDb {
  times: { id: number; at: Date | null; atz: Date | null; day: Date | null }
}
type Column = 'at' | 'atz' | 'day'
const COLUMNS: readonly Column[] = ['at', 'atz', 'day']
interface Holder {
  value: unknown
}
const OPS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte'] as const
type Op = (typeof OPS)[number]
const ACTIONS = ['read', 'hide', 'link', 'unlink'] as const

// Faces around Paris's changes of offset in 2026: 02:00 to 03:00 on March 29 is skipped (a face
// there reads as the instant of the face an hour later), 02:00 to 03:00 on October 25 comes
// twice (a face there reads as the first). And the last times node-postgres reads as a Date
// (275760-09-13 00:00Z, a face of 02:00 in Paris) and those after, which it reads as no Date.
const FACES = [
  '2026-03-29 01:59:59.999',
  '2026-03-29 02:00:00',
  '2026-03-29 02:30:00.000400',
  '2026-03-29 03:00:00',
  '2026-03-29 03:30:00',
  '2026-10-25 01:30:00',
  '2026-10-25 02:00:00',
  '2026-10-25 02:30:00',
  '2026-10-25 02:59:59.999',
  '2026-10-25 03:00:00',
  '275760-09-13 02:00:00',
  '275760-09-13 02:00:00.001',
  '294276-12-31 23:59:59',
  'infinity',
  '-infinity',
]
const INSTANTS = [
  '2026-10-25 00:30:00+00',
  '2026-10-25 01:30:00+00',
  '275760-09-13 00:00:00+00',
  '275760-09-13 00:00:00.001+00',
  '294276-12-31 23:59:59+00',
  'infinity',
]
const DAYS = ['2026-03-29', '275760-09-13', '275760-09-14', '5874897-12-31', 'infinity']
const at = (iso: string) => new Date(Date.parse(iso))
const VALUES: readonly unknown[] = [
  at('2026-03-29T00:59:59.999Z'),
  at('2026-03-29T01:00:00Z'),
  at('2026-03-29T01:15:00Z'),
  at('2026-03-29T01:30:00Z'),
  at('2026-03-29T01:45:00Z'),
  at('2026-10-25T00:15:00Z'),
  at('2026-10-25T00:30:00Z'),
  at('2026-10-25T00:59:59.999Z'),
  at('2026-10-25T01:00:00Z'),
  at('2026-10-25T01:30:00Z'),
  at('2026-10-25T02:00:00Z'),
  new Date(8.64e15),
  new Date(8.64e15 - 1),
  new Date(0),
  'abc',
  'Infinity',
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  5,
]

for (const engine of testEngines().filter((each) => each.engine === 'postgres')) {
  describe.skipIf(engine.skip !== undefined)(
    `dates on ${engine.title} read around a change of offset and past a Date's range`,
    () => {
      if (engine.skip) console.info(engine.skip)
      const zone = process.env.TZ
      beforeAll(() => {
        // node-postgres reads a date or timestamp in this process's zone.
        process.env.TZ = 'Europe/Paris'
      })
      afterAll(() => {
        if (zone === undefined) delete process.env.TZ
        else process.env.TZ = zone
      })
      const database = privateTestDatabase<TimesDb>(engine, async (db) => {
        await sql`create table times (id int primary key, at timestamp, atz timestamptz, day date)`.execute(
          db,
        )
      })

      const expectAgrees = async (
        rows: readonly { at: string | null; atz: string | null; day: string | null }[],
        column: Column,
        op: Op,
        value: unknown,
        [inner, outer]: readonly [Column, Column],
      ) => {
        const db = database.db
        const policy = rulePolicy<TimesDb, 'times', Holder>(
          'times',
          (t, p) => t[op](column, p.value as never),
          [inner, outer],
        )
        const access = await AccessControl.create({ policy, db })
        await sql`insert into times values ${sql.join(
          rows.map(
            (row, index) =>
              sql`(${index + 1}, cast(${row.at} as timestamp), cast(${row.atz} as timestamptz), cast(${row.day} as date))`,
          ),
        )}`.execute(db)
        try {
          await expectRuleAgrees({
            access,
            db,
            resource: 'times',
            principal: { value },
            actions: ACTIONS,
            title: `${column} ${op} ${String(value)}`,
          })
        } finally {
          await db.deleteFrom('times').execute()
        }
      }

      // Each face in `at` and `day`'s turn, as SQL compared faces where node-postgres reads
      // instants: 02:30 in the gap before 03:15, the second 02:30 after the first, 275761 as
      // a time.
      it('compare and link as node-postgres reads the column, in fixed cases', async () => {
        const rows = FACES.map((face, index) => ({
          at: face,
          atz: INSTANTS[index % INSTANTS.length] ?? null,
          day: DAYS[index % DAYS.length] ?? null,
        }))
        const cases: readonly (readonly [Column, Op, unknown, readonly [Column, Column]])[] = [
          // 02:30 in the gap reads as 01:30Z, after 03:15 (01:15Z).
          ['at', 'lt', at('2026-03-29T01:15:00Z'), ['at', 'at']],
          // The first 02:30 (00:30Z) is before the second (01:30Z).
          ['at', 'gte', at('2026-10-25T01:00:00Z'), ['at', 'atz']],
          ['at', 'eq', at('2026-10-25T00:30:00Z'), ['atz', 'at']],
          // Past 275760 reads as no Date: unknown, not later than now.
          ['atz', 'gt', new Date(0), ['atz', 'day']],
          ['day', 'ne', 'abc', ['day', 'at']],
          ['at', 'lt', Number.POSITIVE_INFINITY, ['at', 'day']],
        ]
        for (const [column, op, value, link] of cases) {
          await expectAgrees(rows, column, op, value, link)
        }
      }, 120_000)

      it('agree on random rows and values', async () => {
        const row = fc.record({
          at: fc.option(fc.constantFrom(...FACES), { nil: null }),
          atz: fc.option(fc.constantFrom(...INSTANTS), { nil: null }),
          day: fc.option(fc.constantFrom(...DAYS), { nil: null }),
        })
        const column = fc.constantFrom(...COLUMNS)
        await fc.assert(
          fc.asyncProperty(
            fc.array(row, { minLength: 1, maxLength: 6 }),
            column,
            fc.constantFrom(...OPS),
            fc.constantFrom(...VALUES),
            fc.tuple(column, column),
            (rows, name, op, value, link) => expectAgrees(rows, name, op, value, link),
          ),
          { numRuns: 60 },
        )
      }, 300_000)

      // The ranges of faces and the arms for times read as no Date must leave a bare comparison
      // an index serves, around a change of offset as away from one.
      it('look a Date up in an index of the column', async () => {
        const db = database.db
        const bounds = [
          at('2026-06-01T10:00:00Z'),
          at('2026-03-29T01:15:00Z'),
          at('2026-10-25T00:30:00Z'),
        ]
        try {
          for (const column of COLUMNS) {
            await sql`create index ${sql.id(`times_${column}`)} on times (${sql.id(column)})`.execute(
              db,
            )
          }
          for (const column of COLUMNS) {
            for (const op of ['lt', 'lte', 'gt', 'gte', 'eq'] as const) {
              const access = await AccessControl.create({
                policy: definePolicy<TimesDb, Holder>()
                  .allow('read', 'times', (t, p) => t[op](column, p.value as never))
                  .build(),
                db,
              })
              for (const value of bounds) {
                const { sql: text, parameters } = db
                  .selectFrom('times')
                  .select('id')
                  .where(access.where({ value }, 'read', 'times'))
                  .compile()
                // Whether an index can serve it, whatever the table's size: a scan of the
                // table costs more than any plan without one.
                const plan = await db.transaction().execute(async (trx) => {
                  await sql`set local enable_seqscan = off`.execute(trx)
                  const rows = await trx.executeQuery<{ 'QUERY PLAN': string }>(
                    CompiledQuery.raw(`explain ${text}`, [...parameters]),
                  )
                  return rows.rows.map((row) => row['QUERY PLAN']).join('\n')
                })
                const title = `${column} ${op} ${value.toISOString()}:\n${plan}`
                expect(plan, title).toMatch(
                  new RegExp(`Index (Only )?Scan (on|using) times_${column}\\b`),
                )
                expect(plan, title).toMatch(new RegExp(`Index Cond: .*\\b${column} [<>=]`))
                expect(plan, title).not.toMatch(/Seq Scan/)
              }
            }
          }
        } finally {
          for (const column of COLUMNS) {
            await sql`drop index if exists ${sql.id(`times_${column}`)}`.execute(db)
          }
        }
      })
    },
  )
}
