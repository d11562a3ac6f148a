import { Database } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accountKey } from './login-throttle.js'

// Letters that some collation a user lookup runs under takes for others: MariaDB's default
// utf8mb4_general_ci has ß = s, its unicode_ci ß = ss and œ = oe, uca1400_ai_ci and ICU's
// level-1 collations (PostgreSQL's nondeterministic ones) ø = o, đ = d, ł = l, æ = ae.
const SPELLINGS = [
  ['s', 'ß', 'ss', 'ſ', 'S'],
  ['o', 'ø', 'ö', 'Ø'],
  ['oe', 'œ', 'Œ', 'ö'],
  ['ae', 'æ', 'Æ', 'ä'],
  ['d', 'đ', 'ð', 'Đ'],
  ['l', 'ł', 'ŀ', 'Ł'],
  ['h', 'ħ'],
  ['i', 'ı', 'İ'],
  ['t', 'ŧ'],
  ['th', 'þ'],
  ['ij', 'ĳ'],
  ['n', 'ŋ'],
  ['a', 'å', 'ª'],
  ['@'],
  ['.'],
  ['x'],
]

// Two spellings of one account, unit by unit.
const respelled = fc
  .array(
    fc
      .constantFrom(...SPELLINGS)
      .chain((group) => fc.tuple(fc.constantFrom(...group), fc.constantFrom(...group))),
    { minLength: 1, maxLength: 10 },
  )
  .map((units) => [units.map(([a]) => a).join(''), units.map(([, b]) => b).join('')] as const)

const icuBase = new Intl.Collator('und', { sensitivity: 'base' })

describe('accountKey', () => {
  it('folds two spellings that ICU compares equal at its first level to one key', () => {
    fc.assert(
      fc.property(respelled, ([a, b]) => {
        if (icuBase.compare(a, b) === 0) expect(accountKey(a)).toBe(accountKey(b))
      }),
      { numRuns: 3000 },
    )
  })
})

const COLLATIONS = [
  'utf8mb4_general_ci',
  'utf8mb4_unicode_ci',
  'utf8mb4_unicode_520_ci',
  'utf8mb4_uca1400_ai_ci',
] as const

for (const engine of testEngines().filter((each) => each.engine === 'mysql')) {
  describe.skipIf(engine.skip !== undefined)(`accountKey on ${engine.title}`, () => {
    if (engine.skip) console.info(engine.skip)
    let database: Database<unknown>
    let drop: () => Promise<void>

    beforeAll(async () => {
      const location = await privateDatabaseUrl(engine)
      drop = location.drop
      database = new Database<unknown>(location.url)
    })

    afterAll(async () => {
      await database?.destroy()
      await drop?.()
    })

    it('folds two spellings that a MariaDB collation finds the same user for to one key', async () => {
      await fc.assert(
        fc.asyncProperty(respelled, async ([a, b]) => {
          const text = (value: string) => sql`convert(${value} using utf8mb4)`
          const { rows } = await sql<Record<string, number>>`select ${sql.join(
            COLLATIONS.map(
              (collation) =>
                sql`${text(a)} collate ${sql.raw(collation)} = ${text(b)} collate ${sql.raw(collation)} as ${sql.ref(collation)}`,
            ),
          )}`.execute(database.kysely)
          const equalUnder = COLLATIONS.filter((collation) => Number(rows[0]?.[collation]) === 1)
          if (equalUnder.length > 0) {
            expect({ a, b, key: accountKey(a), equalUnder }).toEqual({
              a,
              b,
              key: accountKey(b),
              equalUnder,
            })
          }
        }),
        { numRuns: 400 },
      )
    }, 120_000)
  })
}
