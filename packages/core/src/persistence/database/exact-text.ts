import { type QueryExecutorProvider, sql } from 'kysely'
import type { DatabaseEngine } from './database-url.js'

/**
 * The collation clause that makes MySQL/MariaDB compare text byte for byte with nothing padded.
 * Their `_bin` collations still ignore trailing spaces (`'a' = 'a '`, one key in a unique
 * index); the `NO PAD` binary collation is named differently on each server, so each reads its
 * own executable comment: MariaDB runs `/*M!` only, MySQL 8 runs `/*!80000` and MariaDB skips it.
 */
export const MYSQL_EXACT_COLLATION =
  '/*M! collate utf8mb4_nopad_bin*/ /*!80000 collate utf8mb4_0900_bin*/'

/** The table option of every table core creates on MySQL/MariaDB: UTF-8, compared exactly. */
export const MYSQL_EXACT_TABLE = `default charset = utf8mb4 ${MYSQL_EXACT_COLLATION}`

/**
 * A text column type that compares exactly on every engine: `'Ada'`, `'ada'`, `'Adá'` and
 * `'ada '` are four values in an index, a join and a `where`. PostgreSQL and SQLite do so on
 * their default collations; MySQL/MariaDB get UTF-8 with a binary, no-pad collation (their
 * defaults ignore case, accents and trailing spaces). For ids and keys in your own migrations.
 *
 * @example
 * ```ts
 * import { exactTextType, type Migration } from '@mortar/core'
 * import { sql } from 'kysely'
 *
 * export const createCoupons: Migration = {
 *   async up(db, { engine }) {
 *     await db.schema
 *       .createTable('coupon')
 *       .addColumn('code', sql.raw(exactTextType(engine, 'varchar(64)')), (c) => c.primaryKey())
 *       .execute()
 *   },
 * }
 * ```
 */
export function exactTextType(engine: DatabaseEngine, type: string): string {
  return engine === 'mysql' ? `${type} character set utf8mb4 ${MYSQL_EXACT_COLLATION}` : type
}

// The collations MYSQL_EXACT_COLLATION picks: MariaDB's, then MySQL 8's.
const EXACT_COLLATIONS = ['utf8mb4_nopad_bin', 'utf8mb4_0900_bin']

/**
 * MySQL/MariaDB: converts `table` and its text columns to UTF-8 with the exact collation, unless
 * they have it already. A table created without a charset takes the database's default (latin1 on
 * many servers), which refuses an emoji or stores it as `?`; one created by an older Mortar may
 * hold a padding collation, where `'a'` and `'a '` are one key.
 */
export async function convertToExactUtf8(db: QueryExecutorProvider, table: string): Promise<void> {
  const found = await sql<{ inexact: number | string }>`
    select count(*) as inexact from information_schema.tables t
    left join information_schema.columns c
      on c.table_schema = t.table_schema and c.table_name = t.table_name
      and c.collation_name is not null and c.collation_name not in (${sql.join(EXACT_COLLATIONS)})
    where t.table_schema = database() and t.table_name = ${table}
      and (t.table_collation not in (${sql.join(EXACT_COLLATIONS)}) or c.column_name is not null)`.execute(
    db,
  )
  if (Number(found.rows[0]?.inexact ?? 0) === 0) return
  await sql`alter table ${sql.table(table)} convert to character set utf8mb4 ${sql.raw(MYSQL_EXACT_COLLATION)}`.execute(
    db,
  )
}
