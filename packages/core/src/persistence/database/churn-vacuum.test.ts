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

  const upkeeps = async (table = 'note') => {
    const { rows } = await sql<{ vacuums: string; analyzes: string }>`select
        vacuum_count as vacuums, analyze_count as analyzes
      from pg_stat_user_tables where relname = ${table} and schemaname = current_schema()`.execute(
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
      .poll(() => upkeeps(), { timeout: 20_000, interval: 100 })
      .toEqual({ vacuums: 1, analyzes: 1 })
  })

  it('vacuums without analyzing when told the table needs no statistics', async () => {
    await sql`create table keyed_note (id integer primary key)`.execute(database.root)
    const upkeep = new ChurnVacuum({ database, table: 'keyed_note', every: 10, analyze: false })
    upkeep.count(10)
    await expect
      .poll(() => upkeeps('keyed_note'), { timeout: 20_000, interval: 100 })
      .toMatchObject({ vacuums: 1 })
    // Counted within the same report as the vacuum: an analyze would show by now.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(await upkeeps('keyed_note')).toEqual({ vacuums: 1, analyzes: 0 })
  })

  it('analyzes a table met in a backlog when it has no statistics or has outgrown them', async () => {
    await sql`create table backlog_note (id integer primary key)`.execute(database.root)
    await sql`insert into backlog_note select generate_series(1, 10)`.execute(database.root)
    const analyzes = async () => (await upkeeps('backlog_note')).analyzes
    const upkeep = new ChurnVacuum({ database, table: 'backlog_note', every: 100 })
    // Never analyzed: the first backlog counted checks at once.
    upkeep.countBacklog(1)
    await expect.poll(analyzes, { timeout: 20_000, interval: 100 }).toBe(1)
    // Statistics that describe the table: checked again, left alone.
    upkeep.countBacklog(100)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect(await analyzes()).toBe(1)
    // Ten rows grown to 5,010: analyzed once the live rows reach the statistics views.
    await sql`insert into backlog_note select generate_series(11, 5010)`.execute(database.root)
    await expect
      .poll(
        async () => {
          upkeep.countBacklog(100)
          return analyzes()
        },
        { timeout: 20_000, interval: 200 },
      )
      .toBe(2)
  })

  it('vacuums at once, awaited, when the dead rows pass 50 + 20% of the live ones, not before', async () => {
    await sql`create table churned_note (id integer primary key)`.execute(database.root)
    // Each change in a transaction that flushes its statistics as it commits: the view is current.
    const change = (statement: ReturnType<typeof sql>) =>
      database.root.transaction().execute(async (trx) => {
        await statement.execute(trx)
        await sql`select pg_stat_force_next_flush()`.execute(trx)
      })
    const remove = (upTo: number) => change(sql`delete from churned_note where id <= ${upTo}`)
    await change(sql`insert into churned_note select generate_series(1, 100)`)
    const upkeep = new ChurnVacuum({ database, table: 'churned_note', every: 1 })
    await remove(55) // 55 dead, 45 live: not over 50 + 9
    await upkeep.vacuumIfDead()
    expect((await upkeeps('churned_note')).vacuums).toBe(0)
    await remove(65) // 65 dead, 35 live: over 50 + 7
    await upkeep.vacuumIfDead()
    expect(await upkeeps('churned_note')).toEqual({ vacuums: 1, analyzes: 1 })
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
