import { type DatabaseEngine, exactTextType } from '@mortar/core'
import { CompiledQuery, type Kysely } from 'kysely'
import { AnalyticsQueryError } from '../errors.js'
import { firstChars, isStorable } from '../storage/storable-text.js'
import {
  BATCH_TABLE,
  type DbInt,
  EVENT_TABLE,
  IDENTITY_TABLE,
} from '../storage/analytics-tables.js'

/** What every query runs with. */
export interface QueryScope {
  readonly db: Kysely<unknown>
  readonly engine: DatabaseEngine
  /** The rollups' time zone, and the queries' default. */
  readonly timeZone: string
}

/** A time range: `from` inclusive, `to` exclusive. */
export interface TimeRange {
  readonly from: Date
  readonly to: Date
}

/** Checks a range and returns it in milliseconds. */
export function rangeMs(range: TimeRange): { readonly from: number; readonly to: number } {
  const from = range.from?.getTime?.()
  const to = range.to?.getTime?.()
  if (!Number.isFinite(from) || !Number.isFinite(to)) {
    throw new AnalyticsQueryError('A query range needs `from` and `to` as valid Dates.')
  }
  if ((to as number) <= (from as number)) {
    throw new AnalyticsQueryError(
      'A query range needs `to` after `from` (`from` is included, `to` is not).',
    )
  }
  return { from: from as number, to: to as number }
}

/** What a statement parameter may be: what every driver sends as the same value. */
export type SqlValue = string | number | bigint

/**
 * The parameters of a statement built as text. Markers are always PostgreSQL's `$n`, so a value
 * can be referred to twice and fragments can be built in any order; {@link compile} turns them
 * into `?` with the values in text order for the other engines.
 *
 * Every value is checked here, the one way to a driver: mysql2 writes parameters into the SQL
 * text, where NaN or Infinity became a bare word, an array a list and an object `key = value`
 * pairs, and `in (NULL)` matches nothing; SQLite binds NaN as NULL, which matches nothing
 * either. An answer computed from such a value would be silently empty or an engine's own error.
 * A text with U+0000 or an unpaired surrogate, which nothing stored holds, failed on PostgreSQL
 * and matched nothing, or a replacement character, elsewhere.
 */
export class Params {
  readonly values: SqlValue[] = []

  add(value: SqlValue): string {
    if (
      !(typeof value === 'string' && isStorable(value)) &&
      typeof value !== 'bigint' &&
      !(typeof value === 'number' && Number.isFinite(value))
    ) {
      throw new AnalyticsQueryError(
        typeof value === 'string'
          ? 'A query text holds a NUL character (U+0000) or an unpaired surrogate, which no stored text holds.'
          : `A query value must be a string, a finite number or a bigint; got ${describeArgument(value)}.`,
      )
    }
    this.values.push(value)
    return `$${this.values.length}`
  }

  list(values: readonly SqlValue[]): string {
    if (!Array.isArray(values)) {
      throw new AnalyticsQueryError(
        `A list of query values must be an array; got ${describeArgument(values)}.`,
      )
    }
    return `(${values.map((value) => this.add(value)).join(', ')})`
  }
}

/**
 * The most names or items a query takes in one list (uniques' events, alsoBought's exclude).
 * Each is a value bound to the statement: past SQLite's 32,766 and PostgreSQL's 65,535 values
 * the driver failed with an error of its own ("too many SQL variables", a bind message whose
 * count had wrapped), so an app passing a client's list through got a 500 instead of a 422.
 */
export const MAX_LIST_ARGUMENT = 1_000

/** `list`, refused with an {@link AnalyticsQueryError} when it holds more than `max` entries. */
export function boundedList<T>(
  what: string,
  list: readonly T[],
  max = MAX_LIST_ARGUMENT,
): readonly T[] {
  if (list.length > max) {
    throw new AnalyticsQueryError(`${what} holds at most ${max} entries; got ${list.length}.`)
  }
  return list
}

/** An argument's kind for an error message; a number as itself (never a string's content). */
export function describeArgument(value: unknown): string {
  if (typeof value === 'number') return String(value)
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/**
 * An event name or property key as a query names it: untyped code (a JSON body, a query string)
 * may pass anything, and MariaDB compares a text column with a number as numbers, so `name = 0`
 * matched every name that does not start with a digit. A name no stored one can be (U+0000, an
 * unpaired surrogate) is refused on every engine: PostgreSQL refused it, the others found nothing.
 */
export function nameArgument(what: string, value: unknown): string {
  if (typeof value === 'string' && isStorable(value)) return value
  throw new AnalyticsQueryError(
    typeof value === 'string'
      ? `${what} holds a NUL character (U+0000) or an unpaired surrogate, which no stored name holds.`
      : `${what} must be a string; got ${describeArgument(value)}.`,
  )
}

interface Positional {
  readonly sql: string
  /** For each `?`, in text order, the index of its value in {@link Params.values}. */
  readonly order: readonly number[]
}

// The same few statements run on every request (also-bought on a product page): their `?` text
// is kept rather than rewritten with a regular expression per call. Bounded: texts that embed
// values (none do today) could otherwise grow it without end.
const positional = new Map<string, Positional>()
const POSITIONAL_LIMIT = 256

function toPositional(text: string): Positional {
  let known = positional.get(text)
  if (known === undefined) {
    const order: number[] = []
    const sql = text.replace(/\$(\d+)/g, (_marker, n: string) => {
      order.push(Number(n) - 1)
      return '?'
    })
    known = { sql, order }
    if (positional.size >= POSITIONAL_LIMIT) positional.clear()
    positional.set(text, known)
  }
  return known
}

/**
 * A statement built as text with {@link Params}, compiled for the engine. node:sqlite binds every
 * JavaScript number as a real, so on SQLite a whole number is bound as a bigint: arithmetic on
 * it is then integer arithmetic, as on the other engines. Bound as a real, the series' quarter
 * hour `(occurred_at - origin) / 900000` was fractional and grouped every distinct time apart,
 * so a series read a row per event.
 */
export function compile(engine: DatabaseEngine, text: string, params: Params): CompiledQuery {
  if (engine === 'postgres') return CompiledQuery.raw(text, params.values)
  const { sql, order } = toPositional(text)
  const values = order.map((index) => params.values[index] as SqlValue)
  return CompiledQuery.raw(
    sql,
    engine === 'sqlite'
      ? values.map((value) => (Number.isSafeInteger(value) ? BigInt(value) : value))
      : values,
  )
}

/** Runs a statement built as text. */
export async function run<R>(scope: QueryScope, text: string, params: Params): Promise<R[]> {
  const result = await scope.db.executeQuery(compile(scope.engine, text, params))
  return result.rows as R[]
}

/**
 * Runs a statement built as text, its rows read one at a time as the caller asks for them (mysql2
 * hands rows one at a time whatever the chunk size), so the process never holds the result.
 */
export async function* stream<R>(
  scope: QueryScope,
  text: string,
  params: Params,
): AsyncIterable<R> {
  for await (const result of scope.db.getExecutor().stream(compile(scope.engine, text, params), 1))
    yield* result.rows as R[]
}

/** Joins each anonymous event `e` to its identity link `i`: see `personKeySql`. */
export const ACTOR_JOIN = `left join ${IDENTITY_TABLE} i on e.user_id is null and i.anonymous_id = e.anonymous_id`
export const EVENTS_FROM = `${EVENT_TABLE} e`

/**
 * SQL reading a scalar property of `e.properties` as the text the rollups store: strings,
 * numbers and booleans, cut to their first {@link MAX_VALUE_CHARS} characters; `null` for a
 * missing key, JSON null, objects and arrays. A number is its JSON text, as JavaScript's
 * `String()` writes it ({@link scalarText}) on every engine. Every query compares and groups
 * values through it, so an answer from the events is the answer the rollups give.
 */
export function propertySql(engine: DatabaseEngine, key: string, params: Params): string {
  return `substr(${wholePropertySql(engine, key, params)}, 1, ${MAX_VALUE_CHARS})`
}

function wholePropertySql(engine: DatabaseEngine, key: string, params: Params): string {
  if (engine === 'postgres') {
    const k = params.add(key)
    return `(case jsonb_typeof(e.properties -> ${k}) when 'number' then ${postgresNumberText(`(e.properties ->> ${k})`)} when 'string' then e.properties ->> ${k} when 'boolean' then e.properties ->> ${k} end)`
  }
  const path = params.add(`$.${JSON.stringify(key)}`)
  if (engine === 'mysql') {
    // MariaDB keeps the document as text: a number reads back as written.
    return mysqlExactText(
      `(case when json_type(json_extract(e.properties, ${path})) in ('STRING', 'INTEGER', 'DOUBLE', 'BOOLEAN') then json_unquote(json_extract(e.properties, ${path})) end)`,
    )
  }
  // SQLite: json_extract gives 1 for true and numbers as SQL numbers, whose text is SQLite's
  // ('1.0e+21', '1.0e-06', 15 digits past 2^63); `->` gives a number's JSON text as written.
  return `(case json_type(e.properties, ${path}) when 'true' then 'true' when 'false' then 'false' when 'object' then null when 'array' then null when 'integer' then e.properties -> ${path} when 'real' then e.properties -> ${path} else cast(json_extract(e.properties, ${path}) as text) end)`
}

/**
 * A MariaDB text expression compared exactly. JSON_UNQUOTE's text has the PAD SPACE collation
 * `utf8mb4_bin`, so 'tea' equalled 'tea ': a filter on one counted both, and grouping merged
 * them (in top lists, rollups and dwell paths), where PostgreSQL and SQLite keep them apart.
 */
export function mysqlExactText(text: string): string {
  return `cast(${text} as ${exactTextType('mysql', 'char')})`
}

/**
 * SQL turning the text of a `jsonb` number (`text`, an SQL expression) into JavaScript's: jsonb
 * keeps numbers as `numeric`, which prints every digit (1e21 as 22 of them, 1e-7 as
 * '0.0000001'), where `String()` and JSON write an exponent from 1e21 up and below 1e-6. Every
 * other number prints the same digits in both.
 */
export function postgresNumberText(text: string): string {
  const abs = `ltrim(${text}, '-')`
  const digits = `trim(both '0' from replace(${abs}, '.', ''))`
  const exponent = `(case when ${abs} like '0.%' then -1 - length(substring(${abs} from '^0[.](0*)')) else strpos(${abs} || '.', '.') - 2 end)`
  const mantissa = `left(${digits}, 1) || case when length(${digits}) > 1 then '.' || substr(${digits}, 2) else '' end`
  const sign = `case when ${text} like '-%' then '-' else '' end`
  return `(case when ${text} ~ '^-?([0-9]{22}|0[.]0{6})' then ${sign} || ${mantissa} || 'e' || case when ${exponent} < 0 then '-' else '+' end || abs(${exponent}) else ${text} end)`
}

/**
 * The characters a stored value keeps (the rollups' value column). Counted as SQL's `substr`
 * counts on every engine, by code point: a cut by UTF-16 unit kept fewer characters of a text
 * with emoji than the rollups (so a long value matched before a rollup and not after, or the
 * reverse) and could split a pair into an unpaired surrogate, which no query takes.
 */
export const MAX_VALUE_CHARS = 255

/**
 * Orders texts by code point, as SQL orders them (PostgreSQL's "C", SQLite's BINARY, MariaDB's
 * `_bin`: UTF-8 bytes), so a tie ranks alike from the rollups and in SQL. JavaScript's `<`
 * compares UTF-16 units, which put a character past U+FFFF (a surrogate) before U+E000..U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const shorter = Math.min(a.length, b.length)
  for (let i = 0; i < shorter; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    const xs = x >= 0xd800 && x <= 0xdfff
    const ys = y >= 0xd800 && y <= 0xdfff
    return xs === ys ? x - y : xs ? 1 : -1
  }
  return a.length - b.length
}

/** A scalar as the rollups store it. */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return firstChars(value, MAX_VALUE_CHARS)
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  return undefined
}

/** A pending batch: written, not folded into the rollups yet. */
export interface PendingBatch {
  readonly id: number
  readonly first: number
  readonly last: number
  /** How many events it wrote. */
  readonly events: number
}

/** The batches not rolled up yet. */
export async function pendingBatches(scope: QueryScope, limit?: number): Promise<PendingBatch[]> {
  const params = new Params()
  const rows = await run<{ batch_id: DbInt; first_at: DbInt; last_at: DbInt; events: DbInt }>(
    scope,
    `select batch_id, first_at, last_at, events from ${BATCH_TABLE} order by batch_id${limit === undefined ? '' : ` limit ${Math.floor(limit)}`}`,
    params,
  )
  return rows.map((row) => ({
    id: Number(row.batch_id),
    first: Number(row.first_at),
    last: Number(row.last_at),
    events: Number(row.events),
  }))
}

/** Time windows holding the batches' events, overlapping ones merged, each with its batch ids. */
export function batchWindows(
  batches: readonly PendingBatch[],
): { readonly first: number; readonly last: number; readonly ids: number[] }[] {
  const sorted = [...batches].sort((a, b) => a.first - b.first)
  const windows: { first: number; last: number; ids: number[] }[] = []
  for (const batch of sorted) {
    const open = windows.at(-1)
    // Joined when close: one range scan reads both.
    if (open !== undefined && batch.first <= open.last + 60_000) {
      open.last = Math.max(open.last, batch.last)
      open.ids.push(batch.id)
    } else {
      windows.push({ first: batch.first, last: batch.last, ids: [batch.id] })
    }
  }
  return windows
}

/**
 * SQL and parameters selecting the events of pending batches inside `[from, to)`: one range
 * per window of the key, filtered by batch id. `undefined` when no pending batch overlaps.
 */
export function pendingFilter(
  batches: readonly PendingBatch[],
  from: number,
  to: number,
  params: Params,
): string | undefined {
  const parts: string[] = []
  for (const window of batchWindows(batches)) {
    const start = Math.max(window.first, from)
    const end = Math.min(window.last + 1, to)
    if (start >= end) continue
    parts.push(
      `(e.occurred_at >= ${params.add(start)} and e.occurred_at < ${params.add(end)} and e.batch_id in ${params.list(window.ids)})`,
    )
  }
  return parts.length === 0 ? undefined : `(${parts.join(' or ')})`
}
