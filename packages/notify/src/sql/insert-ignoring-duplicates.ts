import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import { sqlEngine } from './sql-engine.js'

/**
 * Inserts rows, skipping each one that would break a unique key (the primary key or any unique
 * index), in one statement and without an error that would abort the caller's transaction on
 * PostgreSQL. MySQL/MariaDB get a no-op `ON DUPLICATE KEY UPDATE` rather than `INSERT IGNORE`,
 * which would also turn truncation and other errors into warnings.
 */
export async function insertIgnoringDuplicates(
  db: Kysely<unknown>,
  table: string,
  rows: readonly object[],
  noopColumn = 'id',
): Promise<void> {
  if (rows.length === 0) return
  // Typed loosely on purpose: the callers own the table shapes.
  const loose = db as unknown as Kysely<Record<string, Record<string, unknown>>>
  const insert = loose.insertInto(table).values(rows as Record<string, unknown>[])
  if (sqlEngine(db) === 'mysql') {
    await insert.onDuplicateKeyUpdate({ [noopColumn]: sql.ref(noopColumn) }).execute()
    return
  }
  await insert.onConflict((conflict) => conflict.doNothing()).execute()
}
