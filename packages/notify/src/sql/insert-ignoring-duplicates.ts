import type { InsertQueryBuilder, InsertResult, Kysely } from 'kysely'
import { sql } from 'kysely'
import { sqlEngine } from './sql-engine.js'

// Typed loosely on purpose: the callers own the table shapes.
type LooseTables = Record<string, Record<string, unknown>>

/**
 * The INSERT of rows that skips each one that would break a unique key (the primary key or any
 * unique index), in one statement and without an error that would abort the caller's
 * transaction on PostgreSQL. MySQL/MariaDB get a no-op `ON DUPLICATE KEY UPDATE` rather than
 * `INSERT IGNORE`, which would also turn truncation and other errors into warnings.
 */
function insertIgnoringDuplicatesQuery(
  db: Kysely<unknown>,
  table: string,
  rows: readonly object[],
  noopColumn = 'id',
): InsertQueryBuilder<LooseTables, string, InsertResult> {
  const loose = db as unknown as Kysely<LooseTables>
  const insert = loose.insertInto(table).values(rows as Record<string, unknown>[])
  if (sqlEngine(db) === 'mysql') {
    return insert.onDuplicateKeyUpdate({ [noopColumn]: sql.ref(noopColumn) })
  }
  return insert.onConflict((conflict) => conflict.doNothing())
}

/** Runs {@link insertIgnoringDuplicatesQuery}; no rows, no statement. */
export async function insertIgnoringDuplicates(
  db: Kysely<unknown>,
  table: string,
  rows: readonly object[],
  noopColumn = 'id',
): Promise<void> {
  if (rows.length === 0) return
  await insertIgnoringDuplicatesQuery(db, table, rows, noopColumn).execute()
}

/**
 * Inserts `row` unless it would break a unique key; true when it wrote it. On MySQL/MariaDB a
 * plain INSERT whose duplicate-key error is caught (it undoes the statement, not the caller's
 * transaction): the affected rows of `ON DUPLICATE KEY UPDATE` cannot tell, as mysql2 connects
 * with CLIENT_FOUND_ROWS, which counts a row left as it was as 1, like one inserted.
 */
export async function insertUnlessPresent(
  db: Kysely<unknown>,
  table: string,
  row: object,
): Promise<boolean> {
  const loose = db as unknown as Kysely<LooseTables>
  const insert = loose.insertInto(table).values(row as Record<string, unknown>)
  if (sqlEngine(db) !== 'mysql') {
    const written = await insert
      .onConflict((conflict) => conflict.doNothing())
      .returning(sql<number>`1`.as('written'))
      .execute()
    return written.length > 0
  }
  try {
    await insert.execute()
    return true
  } catch (error) {
    if ((error as { errno?: unknown } | null)?.errno === MYSQL_DUPLICATE_KEY) return false
    throw error
  }
}

// ER_DUP_ENTRY
const MYSQL_DUPLICATE_KEY = 1062
