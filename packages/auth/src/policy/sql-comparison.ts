// A column compared with a value in SQL, with the answers of the point check (compare-values.ts)
// on every engine. Left to itself each engine converts: MariaDB compares a string with a number
// as doubles ('1abc' = 1, 'abc' = 0: rows the point check denies), PostgreSQL raises on a string
// its column type cannot parse, SQLite turns '0123' into 123 for an integer column. So the SQL
// compares the column's text where kinds may differ, and keeps a plain `column = value` beside
// it wherever that cannot raise, so that an index on the column is still used.
import type { DatabaseEngine } from '@mortar/core'
import { type RawBuilder, type SqlBool, sql } from 'kysely'
import { isNumberText, NUMERAL, numberText } from './compare-values.js'
import type { CompareOperator } from './condition.js'

type Column = RawBuilder<unknown>

// NUMERAL for the engines' regular expressions, written without backslashes (MariaDB's string
// literals would eat them).
const NUMERAL_SQL = sql.raw(`'^-?(0|[1-9][0-9]*)([.][0-9]+)?$'`)
// PostgreSQL's number types, and the types pg reads back as a Date or a boolean, by their fixed
// built-in oids ('numeric'::regtype would parse a type name in every query).
const PG_NUMERIC = sql.raw('(21, 23, 20, 1700, 700, 701)')
const PG_NOT_TEXT = sql.raw('(16, 1082, 1114, 1184)')
const PG_NUMERIC_OID = sql.raw('1700')
const PG_TEXT_OF_OTHER_KIND = /^(?:true|false|\d{4}-\d\d-\d\d.*)$/s
const PG_INT4_MAX = 2n ** 31n - 1n
const INTEGER_TEXT = /^(?:0|-?[1-9]\d*)$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * Whether PostgreSQL reads `text` for a text, an integer or a bigint column alike: an integer in
 * an integer column's range (a larger one would raise against it: compared as text instead).
 */
function pgInteger(text: string): boolean {
  if (!INTEGER_TEXT.test(text)) return false
  const value = BigInt(text)
  return value <= PG_INT4_MAX && value >= -PG_INT4_MAX - 1n
}

// The value as MariaDB compares it byte for byte.
const binary = (value: unknown) => sql`cast(${value} as binary)`

/** SQLite: the column holds a numeral (NUMERAL without REGEXP, which SQLite lacks). */
function sqliteNumeral(column: Column): RawBuilder<SqlBool> {
  const digits = sql`substr(${column}, 1 + (${column} glob '-*'))`
  return sql<SqlBool>`(typeof(${column}) = 'text' and ${digits} <> '' and ${digits} not glob '*[^0-9.]*' and ${digits} not glob '*.*.*' and ${digits} not glob '.*' and ${digits} not glob '*.' and (${digits} = '0' or ${digits} glob '0.*' or ${digits} not glob '0*'))`
}

/** `column = value` for a string or a number: equal when the column's text is its text. */
function equalText(
  engine: DatabaseEngine,
  column: Column,
  value: string | number | bigint,
): RawBuilder<SqlBool> {
  const text = typeof value === 'string' ? value : numberText(value)
  switch (engine) {
    case 'mysql':
      // The plain comparison finds the rows through an index; the binary one decides.
      return sql<SqlBool>`(${column} = ${typeof value === 'number' ? value : binary(text)} and ${binary(column)} = ${binary(text)})`
    case 'sqlite':
      // SQLite converts a text that spells a number for a numeric column, and no other.
      return isNumberText(text)
        ? sql<SqlBool>`${column} = ${text}`
        : sql<SqlBool>`(${column} = ${text} and typeof(${column}) in ('text', 'null'))`
    case 'postgres': {
      // A value PostgreSQL reads for any column it may meet is compared as is, so an index is
      // used; another is compared as text, which never raises. Where the plain comparison is
      // the text's (integers; lower-case uuids, as pg reads them back), only a numeric column
      // may differ ('5.00' = 5): that guard is written so the planner counts it as ~always true.
      if (pgInteger(text)) {
        return sql<SqlBool>`(${column} = ${text} and (pg_typeof(${column})::oid <> ${PG_NUMERIC_OID} or cast(${column} as text) = ${text}))`
      }
      if (typeof value === 'string' && UUID.test(text)) return sql<SqlBool>`${column} = ${text}`
      // A boolean's or a date's text ('true', '2026-12-04') is not that boolean or date.
      if (typeof value !== 'string' || !PG_TEXT_OF_OTHER_KIND.test(text)) {
        return sql<SqlBool>`cast(${column} as text) = ${text}`
      }
      return sql<SqlBool>`(cast(${column} as text) = ${text} and (${column} is null or pg_typeof(${column})::oid not in ${PG_NOT_TEXT}))`
    }
  }
}

type Ordering = (column: Column, op: RawBuilder<unknown>, text: string) => RawBuilder<SqlBool>

/** `column op value` for a value that orders as a number (its text is `text`). */
const ORDER_NUMBER: Record<DatabaseEngine, Ordering> = {
  mysql: (column, op, text) =>
    sql<SqlBool>`case when charset(${column}) = 'binary' then ${column} ${op} cast(${text} as decimal(65, 30)) when ${binary(column)} regexp ${NUMERAL_SQL} then cast(${column} as decimal(65, 30)) ${op} cast(${text} as decimal(65, 30)) end`,
  sqlite: (column, op, text) =>
    sql<SqlBool>`case when typeof(${column}) in ('integer', 'real') then ${column} ${op} cast(${text} as numeric) when ${sqliteNumeral(column)} then cast(${column} as numeric) ${op} cast(${text} as numeric) end`,
  postgres: (column, op, text) =>
    sql<SqlBool>`case when pg_typeof(${column})::oid = 16 then cast(cast(${column} as text) = 'true' as integer) ${op} cast(${text} as numeric) when pg_typeof(${column})::oid in ${PG_NUMERIC} or cast(${column} as text) ~ ${NUMERAL_SQL} then cast(cast(${column} as text) as numeric) ${op} cast(${text} as numeric) end`,
}

/** `column op value` for a string that is no numeral: by code point, against strings only. */
const ORDER_STRING: Record<DatabaseEngine, Ordering> = {
  mysql: (column, op, text) =>
    sql<SqlBool>`case when charset(${column}) <> 'binary' and not (${binary(column)} regexp ${NUMERAL_SQL}) then ${column} ${op} ${binary(text)} end`,
  sqlite: (column, op, text) =>
    sql<SqlBool>`case when typeof(${column}) = 'text' and not ${sqliteNumeral(column)} then cast(${column} as text) ${op} ${text} end`,
  postgres: (column, op, text) =>
    sql<SqlBool>`case when pg_typeof(${column})::oid in ${PG_NUMERIC} or pg_typeof(${column})::oid in ${PG_NOT_TEXT} or cast(${column} as text) ~ ${NUMERAL_SQL} then null else cast(${column} as text) ${op} ${text} end`,
}

/**
 * `column op value` in SQL with the point check's answer for every value the column may hold:
 * never true through a conversion, never an error for a value of another kind (but see the
 * README for PostgreSQL). `value` is comparable and not null.
 */
export function sqlCompare(
  engine: DatabaseEngine,
  column: Column,
  op: CompareOperator,
  value: unknown,
): RawBuilder<SqlBool> {
  if (typeof value === 'object') return sql<SqlBool>`${column} ${sql.raw(op)} ${value}`
  if (op === '=' || op === '<>') {
    // A boolean counts as 0 or 1, as MariaDB's and SQLite's booleans are and as PostgreSQL reads
    // '0' and '1' for a boolean column.
    const equal = equalText(
      engine,
      column,
      typeof value === 'boolean' ? (value ? 1 : 0) : (value as string | number | bigint),
    )
    return op === '=' ? equal : sql<SqlBool>`not (${equal})`
  }
  const operator = sql.raw(op)
  if (typeof value === 'string' && !NUMERAL.test(value)) {
    return ORDER_STRING[engine](column, operator, value)
  }
  const text =
    typeof value === 'boolean' ? (value ? '1' : '0') : numberText(value as number | bigint)
  return ORDER_NUMBER[engine](column, operator, typeof value === 'string' ? value : text)
}
