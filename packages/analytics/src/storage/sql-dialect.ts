import { type DatabaseEngine, exactTextType } from '@mortar/core'
import { type RawBuilder, sql } from 'kysely'

// One engine detection for every package: core's (it survives two kysely copies).
export { engineOf } from '@mortar/core'

/**
 * A text column compared exactly (core's {@link exactTextType}): MySQL/MariaDB's defaults would
 * merge the searches 'Shoes', 'shoes' and 'shoes ', and the ids 'ab', 'AB' and 'ab '.
 */
export function textKey(engine: DatabaseEngine, length: number): RawBuilder<unknown> {
  return sql.raw(exactTextType(engine, `varchar(${length})`))
}

/** A UUID column: native on PostgreSQL, 36 ASCII characters elsewhere (sorts in time order). */
export function uuidType(engine: DatabaseEngine): RawBuilder<unknown> {
  if (engine === 'postgres') return sql.raw('uuid')
  if (engine === 'mysql') return sql.raw('char(36) character set ascii collate ascii_bin')
  return sql.raw('text')
}

/** A JSON document column: `jsonb` on PostgreSQL, text elsewhere (read with `json_extract`). */
export function jsonType(engine: DatabaseEngine): RawBuilder<unknown> {
  if (engine === 'postgres') return sql.raw('jsonb')
  if (engine === 'mysql') return sql.raw('mediumtext')
  return sql.raw('text')
}

/** Long free text (failure reasons). */
export function longText(engine: DatabaseEngine): RawBuilder<unknown> {
  return sql.raw(engine === 'mysql' ? 'mediumtext' : 'text')
}

/** Long text compared exactly, as {@link textKey} (a whole id, compared by `=`). */
export function exactLongText(engine: DatabaseEngine): RawBuilder<unknown> {
  return sql.raw(exactTextType(engine, engine === 'mysql' ? 'mediumtext' : 'text'))
}

/** SQL reading a scalar property of the `properties` JSON column as text. */
export function jsonText(engine: DatabaseEngine, column: string, key: string): RawBuilder<string> {
  const path = `$.${JSON.stringify(key)}`
  if (engine === 'postgres') return sql<string>`(${sql.ref(column)} ->> ${key})`
  if (engine === 'mysql') {
    return sql<string>`json_unquote(json_extract(${sql.ref(column)}, ${path}))`
  }
  return sql<string>`json_extract(${sql.ref(column)}, ${path})`
}
