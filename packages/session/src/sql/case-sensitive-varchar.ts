import { exactTextType } from '@mortar/core'
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { sqlEngine } from './sql-engine.js'

/**
 * A `varchar(length)` column type that compares exactly (core's `exactTextType`). MySQL/MariaDB's
 * defaults would let `find('ABC')` or `find('abc ')` match the session `abc`.
 */
export function caseSensitiveVarchar(db: Kysely<unknown>, length: number): RawBuilder<unknown> {
  return sql.raw(exactTextType(sqlEngine(db), `varchar(${length})`))
}
