import { Database } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { clearWorld, findDisagreement, insertWorld } from '../testing/policy-agreement.js'
import type { Condition, ConditionBuilder } from './condition.js'
import { definePolicy } from './define-policy.js'
import type { PrincipalRefs } from './principal-ref.js'

// One column of each kind the drivers read back differently: text, an integer, a bigint (a
// string on PostgreSQL and MariaDB), a boolean (0/1 on MariaDB and SQLite).
interface MixedTable {
  id: number
  txt: string | null
  num: number | null
  big: string | null
  flag: boolean | null
}
interface MixedDb {
  mixed: MixedTable
}
interface Holder {
  value?: unknown
  list?: unknown[]
}
type Column = Exclude<keyof MixedTable, 'id'>
type Builder = ConditionBuilder<MixedDb, 'mixed'>

const NEAR_2_53 = ['9007199254740992', '9007199254740993', '-9007199254740993']
// Strings that spell a number in one engine's eyes and not in the point check's, or in neither.
const TEXTS = ['1', '0', '-1', '2', '01', '+1', ' 1', '1 ', '1.0', '1.5', '1e0', '1abc', 'abc', '']
const WORDS = ['true', 'false', 't', 'Abc', 'ABC', 'abc ', '9223372036854775808', ...NEAR_2_53]

// The values a principal may hold where a rule compares a column, whatever the rule's type says.
const principalValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -2, max: 3 }),
  fc.constantFrom(1.5, -0.5, 2 ** 53, 2 ** 31, 1e21),
  fc.constantFrom(...TEXTS, ...WORDS),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(...NEAR_2_53.map(BigInt), 2n ** 63n - 1n, -1n, 0n, 1n),
)

const row = fc.record({
  txt: fc.option(fc.constantFrom(...TEXTS, ...WORDS), { nil: null }),
  num: fc.option(fc.integer({ min: -2, max: 3 }), { nil: null }),
  big: fc.option(fc.constantFrom('0', '1', '-1', '2', ...NEAR_2_53), { nil: null }),
  flag: fc.option(fc.boolean(), { nil: null }),
})

const world = fc
  .array(row, { minLength: 1, maxLength: 8 })
  .map((rows) => ({ mixed: rows.map((fields, index) => ({ id: index + 1, ...fields })) }))

const OPERATORS = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in'] as const
const ruleOf = (operators: readonly (typeof OPERATORS)[number][]) =>
  fc.record({
    op: fc.constantFrom(...operators),
    column: fc.constantFrom<Column>('txt', 'num', 'big', 'flag'),
    // A literal in the rule instead of the principal's value (as a rule written with a cast).
    literal: fc.boolean(),
  })
const rule = ruleOf(OPERATORS)

type Rule = typeof rule extends fc.Arbitrary<infer R> ? R : never

/**
 * PostgreSQL reads a value for the column's type before it compares: an integer other than 0 or
 * 1 against a boolean column raises (see the README); every other pair must agree.
 */
function raisesOnPostgres(spec: Rule, value: unknown, list: readonly unknown[]): boolean {
  const integer = (item: unknown) =>
    (typeof item === 'number' && Number.isInteger(item) && Math.abs(item) < 2 ** 31) ||
    (typeof item === 'bigint' && item < 2n ** 31n && item >= -(2n ** 31n)) ||
    (typeof item === 'string' && /^(0|-?[1-9][0-9]{0,8})$/.test(item))
  const raises = (item: unknown) => integer(item) && String(item) !== '0' && String(item) !== '1'
  return spec.column === 'flag' && (spec.op === 'in' ? list.some(raises) : raises(value))
}

function condition(t: Builder, p: PrincipalRefs<Holder>, spec: Rule, literal: Holder) {
  const loose = t as unknown as Record<
    string,
    (column: string, value: unknown) => Condition<'mixed'>
  >
  if (spec.op === 'in') {
    return loose.in?.call(
      t,
      spec.column,
      spec.literal ? literal.list : p.list,
    ) as Condition<'mixed'>
  }
  return loose[spec.op]?.call(
    t,
    spec.column,
    spec.literal ? literal.value : p.value,
  ) as Condition<'mixed'>
}

// 'read' lets the condition's rows through, 'write' every row but those (a deny: NOT(condition)).
function policyFor(spec: Rule, literal: Holder) {
  return definePolicy<MixedDb, Holder, 'read' | 'write'>({ roles: () => [] })
    .allow('read', 'mixed', (t, p) => condition(t, p, spec, literal))
    .allow('write', 'mixed', true)
    .deny('write', 'mixed', (t, p) => condition(t, p, spec, literal))
    .build()
}

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(`comparisons across kinds on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let database: Database<MixedDb>
    let drop: () => Promise<void>

    beforeAll(async () => {
      const location = await privateDatabaseUrl(engine)
      drop = location.drop
      database = new Database<MixedDb>(location.url)
      await database.kysely.schema
        .createTable('mixed')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('txt', 'varchar(32)')
        .addColumn('num', 'integer')
        .addColumn('big', 'bigint')
        .addColumn('flag', 'boolean')
        .execute()
    })

    afterAll(async () => {
      await database?.destroy()
      await drop?.()
    })

    const agree = (rules: typeof rule, engineKnown: boolean) => async () => {
      const db = database.kysely
      await fc.assert(
        fc.asyncProperty(
          world,
          rules,
          principalValue,
          fc.array(principalValue, { maxLength: 3 }),
          async (rows, spec, value, list) => {
            fc.pre(engine.engine !== 'postgres' || !raisesOnPostgres(spec, value, list))
            // A literal in a rule is never null (the builder refuses it).
            const literal = { value: value ?? 0, list: list.map((item) => item ?? 0) }
            const policy = policyFor(spec, literal)
            const access = new AccessControl(engineKnown ? { policy, db } : { policy })
            await insertWorld(db, rows)
            try {
              for (const action of ['read', 'write'] as const) {
                const found = await findDisagreement({
                  access,
                  db,
                  resource: 'mixed',
                  action,
                  key: 'id',
                  principal: { value, list },
                })
                expect(found, action).toEqual({ onlyCan: [], onlyWhere: [] })
              }
            } finally {
              await clearWorld(db, rows)
            }
          },
        ),
        { numRuns: 300 },
      )
    }

    it(
      'return exactly the rows the point check allows, for values of every kind against every column',
      agree(rule, true),
      120_000,
    )

    if (engine.engine === 'mysql') {
      // MariaDB reads the text guard of an equality from an executable comment.
      it(
        'match no text column by conversion in an equality even without the database',
        agree(ruleOf(['eq', 'ne', 'in']), false),
        120_000,
      )
    }

    if (engine.engine === 'postgres') {
      it('refuse an integer other than 0 or 1 against a boolean column with a typed input error', async () => {
        const db = database.kysely
        const access = new AccessControl({
          policy: definePolicy<MixedDb, Holder, 'read'>({ roles: () => [] })
            .allow('read', 'mixed', (t, p) => t.eq('flag', p.value as unknown as boolean))
            .build(),
          db,
        })
        const query = access.filter(
          db.selectFrom('mixed').select('id'),
          { value: 2 },
          'read',
          'mixed',
        )
        await expect(query.execute()).rejects.toMatchObject({
          code: 'E_DATABASE_INPUT',
          status: 422,
        })
      })
    }
  })
}
