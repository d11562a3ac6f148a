import type { DatabaseEngine } from '@mortar/core'
import { CompiledQuery, type Kysely } from 'kysely'

// Set-based statements built as text: Kysely's builder would make an operation node per value,
// which costs more than the statement itself for rollup-sized row sets.

const MAX_PARAMETERS = 4_000

/** Ids a statement names at most: well under every engine's bound on one statement's parameters. */
export const IDS_PER_STATEMENT = 1_000

/**
 * `ids` in slices of at most {@link IDS_PER_STATEMENT}: a list of ids that grows with the data
 * (a user's anonymous ids, a batch's users) named in one statement passed SQLite's 32,766 bound
 * parameters and PostgreSQL's 65,535, and the statement failed whole.
 */
export function idChunks<T>(ids: readonly T[]): T[][] {
  const chunks: T[][] = []
  for (let start = 0; start < ids.length; start += IDS_PER_STATEMENT) {
    chunks.push(ids.slice(start, start + IDS_PER_STATEMENT))
  }
  return chunks
}

function placeholders(engine: DatabaseEngine, rows: number, columns: number): string {
  const tuples: string[] = []
  let n = 0
  for (let r = 0; r < rows; r++) {
    const values: string[] = []
    for (let c = 0; c < columns; c++) values.push(engine === 'postgres' ? `$${++n}` : '?')
    tuples.push(`(${values.join(', ')})`)
  }
  return tuples.join(', ')
}

async function chunked(
  rows: readonly (readonly unknown[])[],
  columns: number,
  run: (chunk: readonly (readonly unknown[])[]) => Promise<void>,
): Promise<void> {
  const size = Math.max(1, Math.floor(MAX_PARAMETERS / columns))
  for (let start = 0; start < rows.length; start += size) await run(rows.slice(start, start + size))
}

/**
 * Adds each row's last value to the counter column of the row with the same key, inserting
 * rows that do not exist yet: `INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`, or
 * MariaDB's `ON DUPLICATE KEY UPDATE`. Rows are sorted by key first, so two transactions
 * adding to the same rows lock them in the same order and cannot deadlock.
 */
export async function addCounts(
  db: Kysely<unknown>,
  engine: DatabaseEngine,
  table: string,
  keys: readonly string[],
  counter: string,
  rows: readonly (readonly unknown[])[],
): Promise<void> {
  const sorted = [...rows].sort(compareKeys(keys.length))
  const columns = [...keys, counter]
  await chunked(sorted, columns.length, async (chunk) => {
    const insert = `insert into ${table} (${columns.join(', ')}) values ${placeholders(engine, chunk.length, columns.length)}`
    const text =
      engine === 'mysql'
        ? `${insert} on duplicate key update ${counter} = ${counter} + values(${counter})`
        : `${insert} on conflict (${keys.join(', ')}) do update set ${counter} = ${table}.${counter} + excluded.${counter}`
    await db.executeQuery(CompiledQuery.raw(text, chunk.flat()))
  })
}

/**
 * `insert <into>` skipping the rows whose `keys` exist, and only those: `ON CONFLICT DO
 * NOTHING`, MariaDB's no-op `ON DUPLICATE KEY UPDATE`. Never MariaDB's `INSERT IGNORE`, which
 * also stores a text too long cut, a number out of range clamped and a NULL as the column's
 * default, with only a warning, where SQLite and PostgreSQL store or refuse the value as given.
 * MariaDB's affected rows count a skipped row too (mysql2 connects with CLIENT_FOUND_ROWS).
 */
export function skippingDuplicates(
  engine: DatabaseEngine,
  into: string,
  keys: readonly string[],
): string {
  const first = keys[0] as string
  return engine === 'mysql'
    ? `insert ${into} on duplicate key update ${first} = ${first}`
    : `insert ${into} on conflict (${keys.join(', ')}) do nothing`
}

/** Inserts rows, skipping those whose key exists. */
export async function insertMissing(
  db: Kysely<unknown>,
  engine: DatabaseEngine,
  table: string,
  columns: readonly string[],
  keys: readonly string[],
  rows: readonly (readonly unknown[])[],
): Promise<void> {
  await chunked(rows, columns.length, async (chunk) => {
    const values = placeholders(engine, chunk.length, columns.length)
    const text = skippingDuplicates(
      engine,
      `into ${table} (${columns.join(', ')}) values ${values}`,
      keys,
    )
    await db.executeQuery(CompiledQuery.raw(text, chunk.flat()))
  })
}

/** Deletes the rows whose key columns match one of `keys` (tuples), in chunks. */
export async function deleteKeys(
  db: Kysely<unknown>,
  engine: DatabaseEngine,
  table: string,
  columns: readonly string[],
  keys: readonly (readonly unknown[])[],
): Promise<number> {
  let deleted = 0
  await chunked(keys, columns.length, async (chunk) => {
    const tuple = `(${columns.join(', ')})`
    const text = `delete from ${table} where ${tuple} in (${placeholders(engine, chunk.length, columns.length)})`
    const result = await db.executeQuery(CompiledQuery.raw(text, chunk.flat()))
    deleted += Number(result.numAffectedRows ?? 0n)
  })
  return deleted
}

/** `column in (…)` with one placeholder per value, starting at parameter `offset` + 1. */
export function inList(engine: DatabaseEngine, count: number, offset = 0): string {
  const marks: string[] = []
  for (let i = 0; i < count; i++) marks.push(engine === 'postgres' ? `$${offset + i + 1}` : '?')
  return `(${marks.join(', ')})`
}

function compareKeys(length: number) {
  return (a: readonly unknown[], b: readonly unknown[]): number => {
    for (let i = 0; i < length; i++) {
      const x = String(a[i])
      const y = String(b[i])
      if (x !== y) return x < y ? -1 : 1
    }
    return 0
  }
}
