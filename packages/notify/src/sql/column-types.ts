import { exactTextType } from '@mortar/core'
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { sqlEngine } from './sql-engine.js'

/**
 * A `varchar(length)` that compares exactly (core's `exactTextType`): MySQL/MariaDB's defaults
 * would make recipients `Ada`, `ada` and `ada ` one.
 */
export function idColumn(db: Kysely<unknown>, length: number): RawBuilder<unknown> {
  return sql.raw(exactTextType(sqlEngine(db), `varchar(${length})`))
}

/** Text of any size: `text` stops at 64 KiB on MySQL/MariaDB, where this is `mediumtext`. */
export function longText(db: Kysely<unknown>): RawBuilder<unknown> {
  return sql.raw(sqlEngine(db) === 'mysql' ? 'mediumtext' : 'text')
}
