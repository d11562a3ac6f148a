import { Database } from '@mortar/core'
import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AccessControl } from '../access-control/access-control.js'
import { PolicyDatabaseError } from '../errors.js'
import { clearWorld, findDisagreement, insertWorld } from '../testing/policy-agreement.js'
import type { ConditionBuilder } from './condition.js'
import { definePolicy } from './define-policy.js'

interface DocsDb {
  docs: { id: number; doc: string | null; checked: string | null; txt: string | null }
}
type Rule = (
  t: ConditionBuilder<DocsDb, 'docs'>,
) => ReturnType<ConditionBuilder<DocsDb, 'docs'>['eq']>

const mysql = testEngines().find((engine) => engine.engine === 'mysql')

describe.skipIf(mysql?.skip !== undefined)('JSON columns on MariaDB', () => {
  if (mysql?.skip) console.info(mysql.skip)
  let database: Database<DocsDb>
  let drop: () => Promise<void>

  beforeAll(async () => {
    const location = await privateDatabaseUrl(mysql as NonNullable<typeof mysql>)
    drop = location.drop
    database = new Database<DocsDb>(location.url)
    // MariaDB's JSON is a LONGTEXT with a check of json_valid, and mysql2 parses a LONGTEXT
    // given that check by hand alike.
    await sql`create table docs (id int primary key, doc json, checked longtext check (json_valid(checked)), txt longtext)`.execute(
      database.kysely,
    )
  })

  afterAll(async () => {
    await database?.destroy()
    await drop?.()
  })

  it('refuses a rule that compares or tests a JSON column, where mysql2 reads it parsed and SQL its text', async () => {
    const rules: readonly Rule[] = [
      (t) => t.eq('doc', '{"a": 1}'),
      (t) => t.ne('checked', '1.50'),
      (t) => t.isNull('doc'),
      (t) => t.in('checked', ['"abc"']),
      (t) => t.exists('docs', (s) => s.matches('txt', 'doc')),
    ]
    for (const rule of rules) {
      const policy = definePolicy<DocsDb, Record<string, never>, 'read'>({ roles: () => [] })
        .allow('read', 'docs', true)
        .deny('read', 'docs', rule)
        .build()
      const access = await AccessControl.create({ policy, db: database.kysely })
      expect(() => access.where({}, 'read', 'docs')).toThrow(PolicyDatabaseError)
      expect(() => access.where({}, 'read', 'docs')).toThrow(/JSON column/)
    }
  })

  it('compares a LONGTEXT without the check as the text mysql2 reads', async () => {
    const db = database.kysely
    const policy = definePolicy<DocsDb, Record<string, never>, 'read'>({ roles: () => [] })
      .allow('read', 'docs', true)
      .deny('read', 'docs', (t) => t.eq('txt', '{"a": 1}'))
      .build()
    const access = await AccessControl.create({ policy, db })
    const world = {
      docs: [
        { id: 1, doc: '{"a": 1}', checked: 'null', txt: '{"a": 1}' },
        { id: 2, doc: '1.50', checked: '"abc"', txt: 'null' },
      ],
    }
    await insertWorld(db, world)
    try {
      const found = await findDisagreement({
        access,
        db,
        resource: 'docs',
        action: 'read',
        key: 'id',
        principal: {},
      })
      expect(found).toEqual({ onlyCan: [], onlyWhere: [] })
    } finally {
      await clearWorld(db, world)
    }
  })
})
