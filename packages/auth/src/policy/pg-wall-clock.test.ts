import { Database } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { findDisagreement } from '../testing/policy-agreement.js'
import type { ConditionBuilder } from './condition.js'
import { definePolicy } from './define-policy.js'
import type { PrincipalRefs } from './principal-ref.js'

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
      let database: Database<TimesDb>
      let drop: () => Promise<void>

      beforeAll(async () => {
        // node-postgres reads a date or timestamp in this process's zone.
        process.env.TZ = 'Europe/Paris'
        const location = await privateDatabaseUrl(engine)
        drop = location.drop
        database = new Database<TimesDb>(location.url)
        await sql`create table times (id int primary key, at timestamp, atz timestamptz, day date)`.execute(
          database.kysely,
        )
      })

      afterAll(async () => {
        await database?.destroy()
        await drop?.()
        if (zone === undefined) delete process.env.TZ
        else process.env.TZ = zone
      })

      const expectAgrees = async (
        rows: readonly { at: string | null; atz: string | null; day: string | null }[],
        column: Column,
        op: Op,
        value: unknown,
        [inner, outer]: readonly [Column, Column],
      ) => {
        const db = database.kysely
        const compare = (t: ConditionBuilder<TimesDb, 'times'>, p: PrincipalRefs<Holder>) =>
          t[op](column, p.value as never)
        const policy = definePolicy<TimesDb, Holder, (typeof ACTIONS)[number]>({
          roles: () => [],
        })
          .allow('read', 'times', compare)
          .allow('hide', 'times', true)
          .deny('hide', 'times', compare)
          .allow('link', 'times', (t) =>
            t.exists('times', (s) => s.and(s.matches(inner, outer), s.ne('id', 0))),
          )
          .allow('unlink', 'times', (t) => t.exists('times', (s) => s.not(s.matches(inner, outer))))
          .build()
        const access = await AccessControl.create({ policy, db })
        await sql`insert into times values ${sql.join(
          rows.map(
            (row, index) =>
              sql`(${index + 1}, cast(${row.at} as timestamp), cast(${row.atz} as timestamptz), cast(${row.day} as date))`,
          ),
        )}`.execute(db)
        try {
          for (const action of ACTIONS) {
            const found = await findDisagreement({
              access,
              db,
              resource: 'times',
              action,
              key: 'id',
              principal: { value },
            })
            expect(found, `${action} ${column} ${op} ${String(value)}`).toEqual({
              onlyCan: [],
              onlyWhere: [],
            })
          }
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
    },
  )
}
