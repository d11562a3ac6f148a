import type { DatabaseEngine } from './database-url.js'

/**
 * The collation clause that makes MySQL/MariaDB compare text byte for byte with nothing padded.
 * Their `_bin` collations still ignore trailing spaces (`'a' = 'a '`, one key in a unique
 * index); the `NO PAD` binary collation is named differently on each server, so each reads its
 * own executable comment: MariaDB runs `/*M!` only, MySQL 8 runs `/*!80000` and MariaDB skips it.
 */
export const MYSQL_EXACT_COLLATION =
  '/*M! collate utf8mb4_nopad_bin*/ /*!80000 collate utf8mb4_0900_bin*/'

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
