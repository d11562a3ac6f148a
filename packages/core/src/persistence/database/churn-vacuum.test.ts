import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  testEngines,
} from '../../testing/test-databases.js'
import { createLogger } from '../../logger/create-logger.js'
import { ChurnVacuum } from './churn-vacuum.js'
import { Database } from './database.js'

describe('ChurnVacuum', () => {
  it('refuses an interval that is not a positive whole number', () => {
    const database = new Database('sqlite::memory:')
    for (const every of [0, -1, 1.5, Number.NaN]) {
      expect(() => new ChurnVacuum({ database, table: 'note', every })).toThrow(TypeError)
    }
  })
})

const postgres = testEngines().find((engine) => engine.engine === 'postgres')
describe.skipIf(postgres?.skip !== undefined)('ChurnVacuum on PostgreSQL', () => {
  if (postgres?.skip) console.info(postgres.skip)
  let target: PrivateDatabaseUrl
  let database: Database

  beforeAll(async () => {
    target = await privateDatabaseUrl(postgres as NonNullable<typeof postgres>)
    database = new Database({ url: target.url, pool: 2 })
    await database.connect()
    await sql`create table note (id integer primary key)`.execute(database.root)
  })
  afterAll(async () => {
    await database.destroy()
    await target.drop()
  })

  const upkeeps = async () => {
    const { rows } = await sql<{ vacuums: string; analyzes: string }>`select
        vacuum_count as vacuums, analyze_count as analyzes
      from pg_stat_user_tables where relname = 'note' and schemaname = current_schema()`.execute(
      database.root,
    )
    return { vacuums: Number(rows[0]?.vacuums ?? 0), analyzes: Number(rows[0]?.analyzes ?? 0) }
  }

  it('vacuums and analyzes the table once the rows counted reach the interval, not before', async () => {
    const upkeep = new ChurnVacuum({ database, table: 'note', every: 100 })
    upkeep.count(99)
    // Statistics reach pg_stat_user_tables within about half a second.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(await upkeeps()).toEqual({ vacuums: 0, analyzes: 0 })
    upkeep.count(1)
    await expect
      .poll(upkeeps, { timeout: 20_000, interval: 100 })
      .toEqual({ vacuums: 1, analyzes: 1 })
  })

  it("reports a failed vacuum to the database's logger when given none, and never throws", async () => {
    const lines: string[] = []
    const logged = new Database({
      url: target.url,
      pool: 1,
      logger: createLogger({ level: 'warn', destination: { write: (line) => lines.push(line) } }),
    })
    try {
      const upkeep = new ChurnVacuum({ database: logged, table: 'no_such_table', every: 1 })
      expect(() => upkeep.count(1)).not.toThrow()
      // Before, without a logger the failure went nowhere.
      await expect.poll(() => lines.join(''), { timeout: 20_000 }).toContain('no_such_table')
    } finally {
      await logged.destroy()
    }
  })
})
