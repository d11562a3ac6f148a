import type { DatabaseEngine } from '@mortar/core'
import fc from 'fast-check'
import {
  DummyDriver,
  Kysely,
  MysqlAdapter,
  MysqlIntrospector,
  MysqlQueryCompiler,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
} from 'kysely'
import { describe, expect, it } from 'vitest'
import { deliveryInsertion, keyedDeliveryInsert } from './delivery-insert.js'
import type { DeliveryRow } from './delivery-table.js'

// Compilers only: the statement is compiled, never run.
const dialects = {
  postgres: [PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler],
  sqlite: [SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler],
  mysql: [MysqlAdapter, MysqlIntrospector, MysqlQueryCompiler],
} as const

function compilerOnly(engine: DatabaseEngine): Kysely<unknown> {
  const [Adapter, Introspector, Compiler] = dialects[engine]
  return new Kysely<unknown>({
    dialect: {
      createAdapter: () => new Adapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (db) => new Introspector(db),
      createQueryCompiler: () => new Compiler(),
    },
  })
}

const text = fc.string({ maxLength: 20 })
const row = fc.record({
  id: fc.uuid(),
  notification_id: fc.uuid(),
  type: text,
  category: text,
  recipient_id: text,
  channel: text,
  address: fc.option(text),
  message: text,
  status: fc.constantFrom('queued', 'suppressed', 'dead'),
  last_error: fc.option(text),
  run_at: fc.nat(),
  created_at: fc.nat(),
  updated_at: fc.nat(),
  attempts: fc.constant(0),
  possible_duplicates: fc.constant(0),
}) as fc.Arbitrary<DeliveryRow>

describe('deliveryInsertion', () => {
  for (const engine of ['postgres', 'sqlite', 'mysql'] as const) {
    it(`compiles to what its node compiles to, from its text kept per number of rows, on ${engine}`, () => {
      const db = compilerOnly(engine)
      fc.assert(
        fc.property(fc.array(row, { minLength: 1, maxLength: 4 }), (rows) => {
          const write = deliveryInsertion(db, db, rows)
          const compiled = write.compile?.()
          const expected = sql`${write}`.compile(db)
          expect(compiled?.sql).toBe(expected.sql)
          expect(compiled?.parameters).toEqual(expected.parameters)
        }),
      )
    })
  }
})

describe('keyedDeliveryInsert', () => {
  const keyed = fc
    .tuple(row, text, fc.option(text))
    .map(([r, key, quiet]) => ({ ...r, idempotency_key: key, quiet_hours: quiet }) as DeliveryRow)
  for (const engine of ['postgres', 'sqlite', 'mysql'] as const) {
    it(`compiles to what its node compiles to, from its text kept per number of rows, on ${engine}`, () => {
      const db = compilerOnly(engine)
      fc.assert(
        fc.property(fc.array(keyed, { minLength: 1, maxLength: 4 }), (rows) => {
          const insert = keyedDeliveryInsert(engine, db, rows)
          const compiled = insert.compile()
          const expected = sql`${insert}`.compile(db)
          expect(compiled.sql).toBe(expected.sql)
          expect(compiled.parameters).toEqual(expected.parameters)
          expect(compiled.sql).toContain(engine === 'mysql' ? 'on duplicate key' : 'on conflict')
        }),
      )
    })
  }
})
