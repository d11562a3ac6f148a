// For this package's tests, not exported: one rule checked for agreement between `can` and
// `where` on a table of its own, the set-up the engine tests of comparisons share.
import { Database } from '@mortar/core'
import { privateDatabaseUrl, type TestEngine } from '@mortar/core/testing'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, expect } from 'vitest'
import type { AccessControl } from '../access-control/access-control.js'
import type { Condition, ConditionBuilder } from '../policy/condition.js'
import { definePolicy } from '../policy/define-policy.js'
import type { Policy } from '../policy/policy.js'
import type { PrincipalRefs } from '../policy/principal-ref.js'
import { findDisagreement } from './policy-agreement.js'

/**
 * A database of its own on `engine` for the tests of the describe block this is called in:
 * made, with the tables `setUp` creates, before them, and dropped after them.
 */
export function privateTestDatabase<DB>(
  engine: Pick<TestEngine, 'engine' | 'baseUrl' | 'skip'>,
  setUp: (db: Kysely<DB>) => Promise<void>,
): { readonly db: Kysely<DB> } {
  let database: Database<DB> | undefined
  let drop: (() => Promise<void>) | undefined
  beforeAll(async () => {
    const location = await privateDatabaseUrl(engine)
    drop = location.drop
    database = new Database<DB>(location.url)
    await setUp(database.kysely)
  })
  afterAll(async () => {
    await database?.destroy()
    await drop?.()
  })
  return {
    get db(): Kysely<DB> {
      if (database === undefined) throw new Error('the test database is made before each test')
      return database.kysely
    },
  }
}

/** The actions of {@link rulePolicy}. */
export type RuleAction = 'read' | 'hide' | 'link' | 'unlink'

/**
 * A policy over `table` by one rule: `read` is allowed by it, `hide` allowed to all and denied
 * by it; with `link` (an inner and an outer column of the table), `link` allows the rows that
 * another row relates to through them, `unlink` those some row does not.
 */
export function rulePolicy<DB, T extends keyof DB & string, P>(
  table: T,
  rule: (t: ConditionBuilder<DB, T>, p: PrincipalRefs<P>) => Condition<T>,
  link?: readonly [inner: string, outer: string],
): Policy<DB, P, RuleAction> {
  let policy = definePolicy<DB, P, RuleAction>({ roles: () => [] })
    .allow('read', table, rule)
    .allow('hide', table, true)
    .deny('hide', table, rule)
  if (link !== undefined) {
    // Column names the caller vouches for: the table's type is open here.
    const [inner, outer] = link as [never, never]
    policy = policy
      .allow('link', table, (t) =>
        t.exists(table as never, (s) =>
          s.and(s.matches(inner, outer), s.ne('id' as never, 0 as never)),
        ),
      )
      .allow('unlink', table, (t) =>
        t.exists(table as never, (s) => s.not(s.matches(inner, outer))),
      )
  }
  return policy.build()
}

/**
 * Expects `can` and `where` (in a SELECT, an UPDATE and a DELETE) to let through the same rows
 * of `resource`, keyed by `id`, for `principal` and each of `actions`.
 */
export async function expectRuleAgrees<DB, P>(options: {
  readonly access: AccessControl<DB, P, RuleAction>
  readonly db: Kysely<DB>
  readonly resource: keyof DB & string
  readonly principal: P
  readonly actions: readonly RuleAction[]
  /** Said with a failure: what was compared. */
  readonly title?: string
}): Promise<void> {
  for (const action of options.actions) {
    const found = await findDisagreement({
      access: options.access,
      db: options.db,
      resource: options.resource,
      action,
      key: 'id',
      principal: options.principal,
    })
    expect(found, `${action}${options.title ? `: ${options.title}` : ''}`).toEqual({
      onlyCan: [],
      onlyWhere: [],
    })
  }
}
