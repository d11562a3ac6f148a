import { type Kysely, type RawBuilder, sql } from 'kysely'
import { sqlEngine } from './sql-engine.js'

/**
 * A `varchar(length)` that compares byte for byte: MySQL/MariaDB compare text without regard to
 * case by default, which would make recipient `Ada` and `ada` one.
 */
export function idColumn(db: Kysely<unknown>, length: number): RawBuilder<unknown> {
  return sqlEngine(db) === 'mysql'
    ? sql.raw(`varchar(${length}) character set utf8mb4 collate utf8mb4_bin`)
    : sql.raw(`varchar(${length})`)
}

/** Text of any size: `text` stops at 64 KiB on MySQL/MariaDB, where this is `mediumtext`. */
export function longText(db: Kysely<unknown>): RawBuilder<unknown> {
  return sql.raw(sqlEngine(db) === 'mysql' ? 'mediumtext' : 'text')
}
