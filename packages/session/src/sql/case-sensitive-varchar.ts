import { type Kysely, type RawBuilder, sql } from 'kysely'
import { sqlEngine } from './sql-engine.js'

/**
 * A `varchar(length)` column type that compares byte for byte. MySQL/MariaDB compare text
 * case-insensitively by default, which would let `find('ABC')` match the session `abc`.
 */
export function caseSensitiveVarchar(db: Kysely<unknown>, length: number): RawBuilder<unknown> {
  return sqlEngine(db) === 'mysql'
    ? sql.raw(`varchar(${length}) character set utf8mb4 collate utf8mb4_bin`)
    : sql.raw(`varchar(${length})`)
}
