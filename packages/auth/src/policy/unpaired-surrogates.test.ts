import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { PolicyDefinitionError } from '../errors.js'
import { clearWorld, insertWorld } from '../testing/policy-agreement.js'
import { expectRuleAgrees, privateTestDatabase, rulePolicy } from '../testing/rule-agreement.js'
import type { Condition, ConditionBuilder } from './condition.js'
import { definePolicy } from './define-policy.js'
import type { PrincipalRefs } from './principal-ref.js'

interface NoteDb {
  note: { id: number; owner: string | null }
}
interface Holder {
  value?: string
  list?: string[]
}
type Op = 'eq' | 'ne' | 'lt' | 'lte' | 'gt' | 'gte' | 'in'
const OPS: readonly Op[] = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'in']

// Texts a column holds, around U+FFFD (what UTF-8 writes for half a surrogate pair), U+FFFF and
// the first code points past it, whose UTF-16 starts with a surrogate.
const HELD = ['a', 'a\ufffd', 'a\ufffdb', '\ufffd', 'a\uffff', 'a\u{10000}', 'a\u{10400}', 'b']
const held = fc.oneof(
  fc.constantFrom(...HELD),
  fc.string({ unit: 'binary', maxLength: 3 }).filter((text) => !/[\0\p{Cs}]/u.test(text)),
)
// A held text with half a surrogate pair put in.
const unpaired = fc
  .tuple(
    fc.constantFrom(...HELD),
    fc.integer({ min: 0xd800, max: 0xdfff }),
    fc.nat(),
    fc.constantFrom('', 'b', '\ufffd'),
  )
  .map(([text, unit, at, tail]) => {
    const cut = at % (text.length + 1)
    // A high half right before a low one would pair up.
    const next = text.charCodeAt(cut)
    const half = unit < 0xdc00 && next >= 0xdc00 && next <= 0xdfff ? 0xd800 - 1 : unit
    return `${text.slice(0, cut)}${String.fromCharCode(half)}${text.slice(cut)}${tail}`
  })
  .filter((text) => /\p{Cs}/u.test(text))

function compared(t: ConditionBuilder<NoteDb, 'note'>, p: PrincipalRefs<Holder>, op: Op) {
  return (op === 'in' ? t.in('owner', p.list) : t[op]('owner', p.value)) as Condition<'note'>
}

describe('a string with an unpaired surrogate in a rule', () => {
  it('is refused when the policy is defined', () => {
    for (const op of OPS) {
      expect(() =>
        definePolicy<NoteDb>().allow('read', 'note', (t) =>
          op === 'in' ? t.in('owner', ['a', 'a\ud800']) : t[op]('owner', 'a\ud800'),
        ),
      ).toThrow(PolicyDefinitionError)
    }
  })
})

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(
    `a principal's string with an unpaired surrogate on ${engine.title}`,
    () => {
      if (engine.skip) console.info(engine.skip)
      const database = privateTestDatabase<NoteDb>(engine, async (db) => {
        await db.schema
          .createTable('note')
          .addColumn('id', 'integer', (c) => c.primaryKey())
          .addColumn('owner', 'varchar(16)')
          .execute()
      })

      // MariaDB's and SQLite's drivers send it as U+FFFD: SQL took 'a\ud800' for 'a\ufffd'.
      it('counts as missing, in the point check and in SQL: an allow never matches, a deny always does', async () => {
        const db = database.db
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.option(held, { nil: null }), { minLength: 1, maxLength: 6 }),
            fc.constantFrom(...OPS),
            unpaired,
            fc.array(held, { maxLength: 2 }),
            async (owners, op, value, others) => {
              const access = await AccessControl.create({
                policy: rulePolicy<NoteDb, 'note', Holder>('note', (t, p) => compared(t, p, op)),
                db,
              })
              const principal = { value, list: [...others, value] }
              const world = { note: owners.map((owner, index) => ({ id: index + 1, owner })) }
              await insertWorld(db, world)
              try {
                await expectRuleAgrees({
                  access,
                  db,
                  resource: 'note',
                  principal,
                  actions: ['read', 'hide'],
                })
                for (const action of ['read', 'hide'] as const) {
                  const rows = await db
                    .selectFrom('note')
                    .select('id')
                    .where(access.where(principal, action, 'note'))
                    .execute()
                  expect(rows, action).toEqual([])
                }
              } finally {
                await clearWorld(db, world)
              }
            },
          ),
          { numRuns: 150 },
        )
      }, 120_000)
    },
  )
}
