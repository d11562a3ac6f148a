import type { Kysely } from 'kysely'
import { sqlEngine } from './sql-engine.js'

/**
 * Inserts one row unless a row with the same primary key exists; true when it inserted. The
 * unique key makes it race-safe. PostgreSQL and SQLite skip the row with `ON CONFLICT DO
 * NOTHING` rather than raise, because on PostgreSQL an error aborts the caller's open
 * transaction. MySQL/MariaDB report a duplicate key as an error that ends only the statement,
 * so there it is caught: `INSERT IGNORE` would also turn truncation into a warning, and mysql2
 * counts a no-op `ON DUPLICATE KEY UPDATE` as one affected row.
 */
export async function insertIfAbsent(
  db: Kysely<unknown>,
  table: string,
  primaryKey: readonly string[],
  row: Readonly<Record<string, unknown>>,
): Promise<boolean> {
  // Typed loosely on purpose: the callers own the table shapes.
  const loose = db as unknown as Kysely<Record<string, Record<string, unknown>>>
  const insert = loose.insertInto(table).values(row)
  if (sqlEngine(db) === 'mysql') {
    try {
      await insert.execute()
      return true
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ER_DUP_ENTRY') return false
      throw error
    }
  }
  const result = await insert
    .onConflict((conflict) => conflict.columns([...primaryKey]).doNothing())
    .executeTakeFirst()
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1
}
