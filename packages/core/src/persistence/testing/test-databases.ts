import { envValue } from '../../config/environment.js'
import { randomBytes } from 'node:crypto'
import { Kysely, MysqlDialect, PostgresDialect, sql } from 'kysely'
import { mysqlTypeCast } from '../database/mysql-type-cast.js'
import { NodeSqliteDialect } from '../sqlite/index.js'

/** The engines every persistence behaviour is tested on. */
export type TestEngine = 'sqlite' | 'postgres' | 'mysql'

/** One engine to loop over: its name and, for a server engine, the URL or why it is skipped. */
export interface TestEngineCase {
  readonly engine: TestEngine
  readonly url?: string
  /** Set when the engine's variable is unset: a one-line notice naming it. */
  readonly skipReason?: string
}

/** A fresh, private database (a PG schema, a MariaDB database, an in-memory SQLite). */
export interface TestDatabase<DB> {
  readonly engine: TestEngine
  readonly db: Kysely<DB>
  /** Drops the schema or database and closes the pool. */
  destroy(): Promise<void>
}

const VARIABLES = {
  postgres: 'MORTAR_TEST_POSTGRES_URL',
  mysql: 'MORTAR_TEST_MYSQL_URL',
} as const

/** SQLite always; PostgreSQL and MariaDB when their variable is set, otherwise with a notice. */
export function testEngineCases(): TestEngineCase[] {
  const cases: TestEngineCase[] = [{ engine: 'sqlite' }]
  for (const engine of ['postgres', 'mysql'] as const) {
    const variable = VARIABLES[engine]
    const url = envValue(process.env, variable)
    cases.push(
      url
        ? { engine, url }
        : { engine, skipReason: `${engine} tests skipped: ${variable} is unset` },
    )
  }
  return cases
}

function privateName(): string {
  return `mortar_test_${randomBytes(6).toString('hex')}`
}

/** Opens a private database on the engine of `testCase`; call `destroy()` in `afterAll`. */
export async function openTestDatabase<DB>(testCase: TestEngineCase): Promise<TestDatabase<DB>> {
  const { engine, url } = testCase
  if (engine === 'sqlite') {
    const db = new Kysely<DB>({ dialect: new NodeSqliteDialect({ filename: ':memory:' }) })
    return { engine, db, destroy: () => db.destroy() }
  }
  if (!url) throw new Error(`${VARIABLES[engine]} is unset`)
  const name = privateName()
  if (engine === 'postgres') {
    const { default: pg } = await import('pg')
    const admin = new pg.Pool({ connectionString: url, max: 1 })
    await admin.query(`create schema ${name}`)
    const pool = new pg.Pool({ connectionString: url, max: 4, options: `-c search_path=${name}` })
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) })
    return {
      engine,
      db,
      async destroy() {
        await db.destroy()
        await admin.query(`drop schema ${name} cascade`)
        await admin.end()
      },
    }
  }
  const mysql = await import('mysql2')
  const admin = new Kysely<DB>({
    dialect: new MysqlDialect({ pool: mysql.createPool({ uri: url, connectionLimit: 1 }) }),
  })
  await sql`create database ${sql.id(name)}`.execute(admin)
  // Big integers as strings, doubles and dates read as core's pools read them (JS numbers would
  // round the ones, mysql2 some doubles and dates), Dates written and read as UTC.
  const pool = mysql.createPool({
    uri: url,
    database: name,
    connectionLimit: 4,
    supportBigNumbers: true,
    bigNumberStrings: true,
    typeCast: mysqlTypeCast({ dateStrings: false }),
    timezone: 'Z',
  })
  const db = new Kysely<DB>({ dialect: new MysqlDialect({ pool }) })
  return {
    engine,
    db,
    async destroy() {
      await db.destroy()
      await sql`drop database ${sql.id(name)}`.execute(admin)
      await admin.destroy()
    },
  }
}
