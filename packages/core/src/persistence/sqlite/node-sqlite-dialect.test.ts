import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kysely, sql } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { NodeSqliteDialect } from './node-sqlite-dialect.js'

interface TestDb {
  flag: { id: number; on: number; at: string | null; note: string | null }
}

const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

function open(filename: string): Kysely<TestDb> {
  const db = new Kysely<TestDb>({ dialect: new NodeSqliteDialect({ filename }) })
  cleanups.push(() => db.destroy())
  return db
}

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mortar-sqlite-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'deep', 'er', 'app.db')
}

async function createFlag(db: Kysely<TestDb>): Promise<void> {
  await db.schema
    .createTable('flag')
    .ifNotExists()
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('on', 'integer', (c) => c.notNull())
    .addColumn('at', 'text')
    .addColumn('note', 'text')
    .execute()
}

describe('NodeSqliteDialect', () => {
  it('runs Kysely queries on node:sqlite, returning rows for readers and counts for writers', async () => {
    const db = open(':memory:')
    await createFlag(db)
    const insert = await db
      .insertInto('flag')
      .values({ id: 1, on: 1, at: null, note: 'x' })
      .executeTakeFirst()
    expect(insert.numInsertedOrUpdatedRows).toBe(1n)
    // `returning` makes a writer a reader: rows come back.
    const returned = await db
      .insertInto('flag')
      .values({ id: 2, on: 0, at: null, note: null })
      .returning(['id'])
      .execute()
    expect(returned).toEqual([{ id: 2 }])
    const updated = await db.updateTable('flag').set({ note: 'y' }).executeTakeFirst()
    expect(updated.numUpdatedRows).toBe(2n)
  })

  it('binds booleans as 0/1, dates as ISO strings and undefined as NULL', async () => {
    const db = open(':memory:')
    await createFlag(db)
    const at = new Date('2026-01-02T03:04:05.000Z')
    await sql`insert into flag (id, "on", at, note) values (${1}, ${true}, ${at}, ${undefined})`.execute(
      db,
    )
    const row = await db.selectFrom('flag').selectAll().executeTakeFirstOrThrow()
    expect(row).toEqual({ id: 1, on: 1, at: '2026-01-02T03:04:05.000Z', note: null })
  })

  it('creates the parent directories of a file and enforces foreign keys', async () => {
    const db = open(tempFile())
    await sql`create table parent (id integer primary key)`.execute(db)
    await sql`create table child (id integer primary key, parent_id integer references parent(id))`.execute(
      db,
    )
    await expect(sql`insert into child values (1, 42)`.execute(db)).rejects.toThrow(/FOREIGN KEY/)
  })

  it('lets two instances on one file run transactions at once without deadlocking the event loop', async () => {
    const file = tempFile()
    const first = open(file)
    const second = open(file)
    await createFlag(first)
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const slow = first.transaction().execute(async (trx) => {
      await trx.insertInto('flag').values({ id: 1, on: 1, at: null, note: null }).execute()
      await held
    })
    // The second waits for the first's write lock by polling, so the first can still finish.
    const waiting = second.transaction().execute(async (trx) => {
      await trx.insertInto('flag').values({ id: 2, on: 1, at: null, note: null }).execute()
    })
    setTimeout(release, 20)
    await Promise.all([slow, waiting])
    const ids = await first.selectFrom('flag').select('id').orderBy('id').execute()
    expect(ids).toEqual([{ id: 1 }, { id: 2 }])
  })
})
