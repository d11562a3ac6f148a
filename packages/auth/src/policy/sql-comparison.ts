// A column compared with a value in SQL, with the answers of the point check (compare-values.ts)
// on every engine. Left to itself each engine converts: MariaDB compares a string with a number
// as doubles ('1abc' = 1, 'abc' = 0: rows the point check denies), PostgreSQL raises on a string
// its column type cannot parse, SQLite turns '0123' into 123 for an integer column. On
// PostgreSQL the column's type is known (pg-columns.ts), so the value is turned into one of that
// type, or the comparison into the constant the point check answers for every row of it; on
// MariaDB and SQLite, whose columns may hold values of other kinds, the SQL compares the
// column's text where kinds may differ, with a plain `column = value` beside it for an index.
import { type DatabaseEngine, SQLITE_JS_TEXT } from '@mortar/core'
import { type RawBuilder, type SqlBool, sql } from 'kysely'
import type { Truth } from './compile-condition.js'
import {
  compareTruth,
  isInfinite,
  NUMERAL,
  numberText,
  orderNumber,
  orderTest,
} from './compare-values.js'
import type { CompareOperator } from './condition.js'
import { floatBound, numeralOrder } from './numeral-order.js'
import type { MysqlColumn, MysqlColumns, PgColumn, PgColumns } from './column-types.js'
import {
  type Face,
  type FaceRange,
  faceText,
  facesBefore,
  LAST_DATE,
  lastFace,
} from './wall-clock.js'

type Column = RawBuilder<unknown>
type Ordering = Exclude<CompareOperator, '=' | '<>'>

// Built once: a filter is built per request, and every SQL fragment is a frozen node.
const OPERATORS: Readonly<Record<CompareOperator, RawBuilder<unknown>>> = {
  '=': sql.raw('='),
  '<>': sql.raw('<>'),
  '<': sql.raw('<'),
  '<=': sql.raw('<='),
  '>': sql.raw('>'),
  '>=': sql.raw('>='),
}

/** The engine SQL runs on, with its column types (column-types.ts). */
export type SqlSchema =
  | { readonly engine: 'postgres'; readonly columns: PgColumns }
  | { readonly engine: 'mysql'; readonly columns: MysqlColumns }
  | { readonly engine: 'sqlite' }

/** A column in SQL: its reference, and its type where the engine has one. */
export type SqlColumn =
  | { readonly engine: 'postgres'; readonly ref: Column; readonly type: PgColumn }
  | {
      readonly engine: 'mysql'
      readonly ref: Column
      readonly type: Exclude<MysqlColumn, 'padded' | 'json'>
    }
  | { readonly engine: 'sqlite'; readonly ref: Column }

/**
 * A MariaDB column as SQL reads it: a padded number (ZEROFILL, YEAR) as `col + 0`, whose text is
 * the number mysql2 reads (`42`, not `000042`; `0`, not `0000`). No index serves it.
 */
export function mysqlColumn(ref: Column, type: Exclude<MysqlColumn, 'json'>): SqlColumn {
  if (type === 'padded') return { engine: 'mysql', ref: sql`(${ref} + 0)`, type: 'integer' }
  return { engine: 'mysql', ref, type }
}

// NUMERAL for the engines' regular expressions, written without backslashes (MariaDB's string
// literals would eat them).
const NUMERAL_SQL = sql.raw(`'^-?(0|[1-9][0-9]*)([.][0-9]+)?$'`)
// SQLite's function for a value's text as JavaScript writes it, registered by core.
const JS_TEXT = sql.raw(SQLITE_JS_TEXT)
const INTEGER_TEXT = /^(?:0|-?[1-9]\d*)$/
const MAX_INT64 = 2n ** 63n - 1n
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

// The value as MariaDB compares it byte for byte. Not `cast(… as binary)`: a constant cast so
// reads as a number with no decimals where a DECIMAL column compares with it, so the index
// term `dec = cast('1.5' as binary)` tested 1.5 = 2 and left out the row the bytes matched.
const binary = (value: unknown) => sql`convert(${value} using binary)`

// A MariaDB column's text in UTF-8, as mysql2 reads it, whatever the connection's character set.
const mysqlText = (column: Column) => sql`convert(${column} using utf8mb4)`

/**
 * SQLite: a value as node:sqlite reads it, through core's function (a TEXT's bytes no UTF-8
 * holds as U+FFFD, a text of valid UTF-8 as it is), where SQL compared the bytes.
 */
const sqliteRead = (column: Column) => sql`${JS_TEXT}(${column})`

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
      // A text column: the plain comparison finds the rows through an index, the binary one
      // decides. Both compare texts: `txt = 42` read each row's text as a number, which a
      // strict UPDATE refuses where it is none (mysqlNumberCompare for numbers).
      return sql<SqlBool>`(${column} = ${binary(text)} and ${binary(column)} = ${binary(text)})`
    case 'sqlite': {
      // A value of each storage class whose text, as the point check reads it, is `text`, each
      // compared within its class: SQLite converts the other side to the column's affinity, and
      // a column of none (BLOB, or no type declared) converts nothing, so `col = '1'` missed
      // its INTEGER 1. Texts compare byte for byte whatever the column's collation: a NOCASE
      // column took 'abc' for 'ABC', an RTRIM one for 'abc '. The bytes decide, as blobs and
      // not through `collate binary`: SQLite serves an OR through indexes term by term only
      // where no term names a collation, so `collate binary` made every eq and in a scan. The
      // plain `=` beside them finds the rows through an index of the column, of any collation.
      const terms = [
        sql<SqlBool>`${column} = ${text} and typeof(${column}) in ('text', 'null') and cast(${column} as blob) = cast(${text} as blob)`,
      ]
      // A TEXT holding bytes no UTF-8 holds (written as a BLOB cast to text, or by another
      // client) reads back with U+FFFD for them, so it equals such a text only as read. Its
      // bytes start with the text's up to the first U+FFFD, so it sorts from that prefix on (in
      // the BINARY, NOCASE and RTRIM collations alike) and before every BLOB. A function's
      // value compares byte for byte, whatever the column's collation.
      const replaced = text.indexOf('\ufffd')
      if (replaced >= 0) {
        terms.push(
          sql<SqlBool>`${column} >= ${text.slice(0, replaced)} and ${column} < x'' and typeof(${column}) = 'text' and ${sqliteRead(column)} = ${text}`,
        )
      }
      const integer =
        typeof value === 'bigint' ? value : INTEGER_TEXT.test(text) ? BigInt(text) : undefined
      if (integer !== undefined && integer <= MAX_INT64 && integer >= -MAX_INT64 - 1n) {
        terms.push(sql<SqlBool>`${column} = ${integer} and typeof(${column}) = 'integer'`)
      }
      // A REAL equals a bigint as a number, exactly; a text only where the text is JavaScript's
      // for that double ('39293198896550890' is the text of the double 39293198896550888).
      const double = Number(text)
      const real =
        typeof value === 'bigint'
          ? Number.isFinite(double) && BigInt(double) === value
          : !Number.isNaN(double) && numberText(double) === text
      if (real) {
        const bound = isInfinite(double) ? sqliteInfinity(double) : sql`${double}`
        terms.push(sql<SqlBool>`${column} = ${bound} and typeof(${column}) = 'real'`)
      }
      return sql<SqlBool>`(${sql.join(terms, sql` or `)})`
    }
    case 'postgres':
      // A column of a type pg-columns.ts does not tell apart reads back as its text.
      return sql<SqlBool>`cast(${column} as text) = ${text}`
  }
}

type OrderSql = (column: Column, op: RawBuilder<unknown>, text: string) => RawBuilder<SqlBool>

/** SQLite's ±Infinity, a literal out of a REAL's range (a text 'Infinity' casts to 0). */
const sqliteInfinity = (value: number) => sql.raw(value > 0 ? '9e999' : '-9e999')

// An integer numeral, for the engines' regular expressions (see NUMERAL_SQL).
const INTEGER_SQL = sql.raw(`'^-?(0|[1-9][0-9]*)$'`)

/** PostgreSQL: `text op bound` for a column's text that may be a numeral (numeral-order.ts). */
const pgNumeralOrder = (text: Column, op: Ordering, bound: number | bigint) =>
  numeralOrder(
    'postgres',
    text,
    {
      integer: sql<SqlBool>`${text} ~ ${INTEGER_SQL}`,
      numeral: sql<SqlBool>`${text} ~ ${NUMERAL_SQL}`,
    },
    op,
    bound,
  )

/**
 * `column op bound` for a bound that orders as a number (a number, or the number of a bigint, a
 * boolean or a numeral): a number in the column as a number, a numeral as the point check reads
 * it (numeral-order.ts), anything else unknown.
 */
const ORDER_NUMBER: Record<
  DatabaseEngine,
  (column: Column, op: Ordering, bound: number | bigint) => RawBuilder<SqlBool>
> = {
  // A number column's bytes are its text (a DECIMAL's '1.500', which mysql2 reads).
  mysql: (column, op, bound) => {
    const text = binary(column)
    return numeralOrder(
      'mysql',
      text,
      {
        integer: sql<SqlBool>`${text} regexp ${INTEGER_SQL}`,
        numeral: sql<SqlBool>`${text} regexp ${NUMERAL_SQL}`,
      },
      op,
      bound,
    )
  },
  sqlite: (column, op, bound) => {
    // A number as the double it is (bound as a REAL): its text may spell another number
    // ('39293198896550890' for the double 39293198896550888), which SQLite would read exactly.
    // SQLite reads an integer past 64 bits as the REAL nearest it: such a bound becomes the
    // doubles around it.
    const [numberOp, target] =
      typeof bound === 'bigint' && (bound > MAX_INT64 || bound < -MAX_INT64 - 1n)
        ? floatBound(op, bound)
        : [op, bound]
    const value = isInfinite(target) ? sqliteInfinity(target) : sql`${target}`
    const numeral = sqliteNumeral(column)
    const text = numeralOrder(
      'sqlite',
      column,
      { integer: sql<SqlBool>`(${numeral} and ${column} not glob '*.*')`, numeral },
      op,
      bound,
    )
    return sql<SqlBool>`case when typeof(${column}) in ('integer', 'real') then ${column} ${OPERATORS[numberOp]} ${value} else ${text} end`
  },
  // Only the other types (numeric, money, char(n)…) come here, read back as their text: a
  // numeric's 'NaN' or 'Infinity' is a string to the point check, which orders no number.
  postgres: (column, op, bound) => pgNumeralOrder(sql`cast(${column} as text)`, op, bound),
}

/** `column op value` for a string that is no numeral: by code point, against strings only. */
const ORDER_STRING: Record<DatabaseEngine, OrderSql> = {
  // A text column (numbers never come here: mysqlNumberCompare).
  mysql: (column, op, text) =>
    sql<SqlBool>`case when not (${binary(column)} regexp ${NUMERAL_SQL}) then ${column} ${op} ${binary(text)} end`,
  sqlite: (column, op, text) =>
    sql<SqlBool>`case when typeof(${column}) = 'text' and not ${sqliteNumeral(column)} then ${sqliteRead(column)} ${op} ${text} collate binary end`,
  postgres: (column, op, text) =>
    sql<SqlBool>`case when cast(${column} as text) ~ ${NUMERAL_SQL} then null else cast(${column} as text) collate "C" ${op} ${text} end`,
}

/** The answer for every row whose column is not NULL (NULL where it is: unknown, as in a check). */
function known(column: Column, notNull: boolean, answer: Truth): RawBuilder<SqlBool> {
  if (answer === null) return UNKNOWN
  if (notNull) return answer ? TRUE : FALSE
  return answer
    ? sql<SqlBool>`nullif(${column} is not null, false)`
    : sql<SqlBool>`nullif(${column} is null, true)`
}

const UNKNOWN = sql<SqlBool>`null`
const TRUE = sql<SqlBool>`${sql.lit(true)}`
const FALSE = sql<SqlBool>`${sql.lit(false)}`

/** `true`/`false` as folded SQL constants (compile-condition.ts joins them away). */
export function sqlConstant(value: boolean): RawBuilder<SqlBool> {
  return value ? TRUE : FALSE
}

/** The integer a value equals in a point check against an integer column, if any. */
function integerOf(value: unknown): bigint | undefined {
  switch (typeof value) {
    case 'number': {
      // As its text: an int8 reads back as a string, which equals a number only when it is the
      // number's text (39293198896550888 is written '39293198896550890').
      const text = numberText(value)
      return INTEGER_TEXT.test(text) ? BigInt(text) : undefined
    }
    case 'bigint':
      return value
    case 'boolean':
      return value ? 1n : 0n
    case 'string':
      return INTEGER_TEXT.test(value) ? BigInt(value) : undefined
    default:
      return undefined
  }
}

/** The text a value equals in a point check against a text column, if any. */
function textOf(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value
    case 'number':
    case 'bigint':
      return numberText(value)
    case 'boolean':
      return value ? '1' : '0'
    default:
      return undefined
  }
}

/**
 * An integer column (a number, or an int8's string): the value becomes an integer in the
 * column's range, or the answer is the same for every row.
 */
function pgInteger(
  column: Column,
  type: Extract<PgColumn, { kind: 'integer' }>,
  op: CompareOperator,
  value: unknown,
): RawBuilder<SqlBool> {
  if (op === '=' || op === '<>') {
    const target = integerOf(value)
    if (target === undefined || target < type.min || target > type.max) {
      return known(column, type.notNull, op === '<>')
    }
    return sql<SqlBool>`${column} ${OPERATORS[op]} ${String(target)}`
  }
  const bound = orderNumber(value)
  if (bound === undefined) return known(column, type.notNull, null)
  return integerOrder(column, type, op, bound, (target) => sql`${String(target)}`)
}

/**
 * `column op bound` for an integer column between `min` and `max`, as a comparison with an
 * integer (`literal` writes it for the engine), or the answer for every row.
 */
function integerOrder(
  column: Column,
  type: { readonly min: bigint; readonly max: bigint; readonly notNull: boolean },
  op: Ordering,
  bound: number | bigint,
  literal: (target: bigint) => RawBuilder<unknown>,
): RawBuilder<SqlBool> {
  // For an integer x, x < 1.5 is x < 2 and x <= 1.5 is x <= 1.
  let target: bigint
  if (typeof bound === 'bigint') target = bound
  else if (bound === Number.POSITIVE_INFINITY) target = type.max + 1n
  else if (bound === Number.NEGATIVE_INFINITY) target = type.min - 1n
  else target = BigInt(op === '<' || op === '>=' ? Math.ceil(bound) : Math.floor(bound))
  const answers: Record<Ordering, [all: boolean, none: boolean]> = {
    '<': [type.max < target, type.min >= target],
    '<=': [type.max <= target, type.min > target],
    '>': [type.min > target, type.max <= target],
    '>=': [type.min >= target, type.max < target],
  }
  const [all, none] = answers[op]
  if (all || none) return known(column, type.notNull, all)
  return sql<SqlBool>`${column} ${OPERATORS[op]} ${literal(target)}`
}

// Every MariaDB integer, signed BIGINT to unsigned BIGINT.
const MYSQL_INTEGERS = { min: -(2n ** 63n), max: 2n ** 64n - 1n, notNull: false }

/**
 * A column of few values (a boolean, an enum): the point check is asked for each, and the SQL
 * names the values that pass.
 */
function pgDomain(
  column: Column,
  notNull: boolean,
  domain: readonly (boolean | string)[],
  op: CompareOperator,
  value: unknown,
): RawBuilder<SqlBool> {
  return pgDomainAnswers(
    column,
    notNull,
    domain,
    domain.map((item) => compareTruth(item, op, value)),
  )
}

/** {@link pgDomain} given the point check's answer for each value of the domain. */
function pgDomainAnswers(
  column: Column,
  notNull: boolean,
  domain: readonly (boolean | string)[],
  answers: readonly Truth[],
): RawBuilder<SqlBool> {
  const first = answers[0] ?? null
  if (answers.every((answer) => answer === first)) return known(column, notNull, first)
  const among = (answer: Truth) => {
    const values = domain.filter((_, index) => answers[index] === answer)
    if (values.length === 0) return FALSE
    return values.length === 1
      ? sql<SqlBool>`${column} = ${values[0]}`
      : sql<SqlBool>`${column} in (${sql.join(values)})`
  }
  if (!answers.includes(null)) return among(true)
  return sql<SqlBool>`case when ${column} is null then null when ${among(true)} then true when ${among(null)} then null else false end`
}

/**
 * An ordering against a string with a NUL byte, which PostgreSQL refuses as input, as one against
 * the text before it: no column's text holds a NUL, so each orders against both alike.
 */
function beforeNul(op: Ordering, value: string): [Ordering, string] {
  const prefix = value.slice(0, value.indexOf('\0'))
  return [op === '<' || op === '<=' ? '<=' : '>', prefix]
}

/**
 * This process's time zone, as node-postgres's parser reads wall-clock times in it. Read when
 * the SQL is built, not when this module loads: an app's `process.env.TZ = 'UTC'` runs after
 * its imports.
 */
function processTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone
}

/**
 * PostgreSQL: a date's or timestamp's face as the instant node-postgres reads (wall-clock.ts),
 * cut to the millisecond. `at time zone` reads a face in a gap as JavaScript does, but one in an
 * overlap as the later of its instants where JavaScript takes the earlier: the face read with
 * the offset of a day before, where that shows the face again.
 */
function pgReadFace(column: Column): RawBuilder<unknown> {
  const zone = processTimeZone()
  const face = sql`date_trunc('milliseconds', cast(${column} as timestamp))`
  const later = sql`timezone(${zone}, ${face})`
  const dayBefore = sql`(${later} - interval '1 day')`
  const earlier = sql`timezone('UTC', ${face} - (timezone(${zone}, ${dayBefore}) - timezone('UTC', ${dayBefore})))`
  // A day before the first days PostgreSQL holds is out of its range (22008).
  return sql`case when not isfinite(${face}) or ${face} < ${pgTime(true, PG_FIRST_TIME + 2 * 86_400_000)} then ${later} when ${earlier} < ${later} and timezone(${zone}, ${earlier}) = ${face} then ${earlier} else ${later} end`
}

/** PostgreSQL: the column holds a time node-postgres reads as an invalid Date (pgReadable). */
function pgUnread(column: SqlColumn & { engine: 'postgres' }): RawBuilder<SqlBool> {
  if (column.type.kind !== 'date') return FALSE
  const { local } = column.type
  return sql<SqlBool>`(${column.ref} > ${pgTime(local, local ? lastFace() : LAST_DATE)} and ${column.ref} < ${pgInfinity(local, 1)})`
}

type FloatEngine = 'postgres' | 'mysql'

/**
 * A float column as the point check reads it: the number its text spells (a float4 0.1 reads
 * back as 0.1, not as the float's 0.100000001…), and PostgreSQL's NaN, which equals itself and
 * orders above every number there but is unknown to the point check, as NULL.
 */
const FLOAT_VALUE: Record<FloatEngine, (column: Column) => Column> = {
  postgres: (column) => sql`nullif(cast(cast(${column} as text) as float8), 'NaN')`,
  mysql: (column) => sql`cast(cast(${column} as char) as double)`,
}

/**
 * A MariaDB FLOAT's or DOUBLE's text as JavaScript writes the number mysql2 reads. MariaDB
 * writes the same shortest digits, but as an exponent from 1e15 (`1e15`, `1.152921504606847e18`)
 * and as decimals down to any size (`0.0000001`), where JavaScript does from 1e21 and below 1e-6
 * (`1000000000000000`, `1e-7`, `1e+21`): the text is taken apart into its digits `d` and the
 * place `n` of its decimal point (the number is 0.d × 10^n) and written again by
 * Number.prototype.toString's rules.
 */
function mysqlFloatText(column: Column): Column {
  const text = sql`cast(${column} as char)`
  const unsigned = sql`trim(leading '-' from ${text})`
  const mantissa = sql`substring_index(${unsigned}, 'e', 1)`
  const exponent = sql`if(locate('e', ${unsigned}) > 0, cast(substring_index(${unsigned}, 'e', -1) as signed), 0)`
  const whole = sql`substring_index(${mantissa}, '.', 1)`
  const raw = sql`concat(${whole}, if(locate('.', ${mantissa}) > 0, substring_index(${mantissa}, '.', -1), ''))`
  const significant = sql`trim(leading '0' from ${raw})`
  const n = sql`(length(${whole}) + ${exponent} - (length(${raw}) - length(${significant})))`
  const d = sql`trim(trailing '0' from ${significant})`
  const k = sql`length(${d})`
  return sql`case when ${column} is null then null when ${d} = '' then '0' else concat(if(${text} like '-%', '-', ''), case when ${n} >= ${k} and ${n} <= 21 then concat(${d}, repeat('0', ${n} - ${k})) when ${n} > 0 and ${n} <= 21 then concat(left(${d}, ${n}), '.', substring(${d}, ${n} + 1)) when ${n} > -6 and ${n} <= 0 then concat('0.', repeat('0', -${n}), ${d}) else concat(left(${d}, 1), if(${k} > 1, concat('.', substring(${d}, 2)), ''), 'e', if(${n} > 0, '+', '-'), abs(${n} - 1)) end) end`
}

const AS_FLOAT: Record<FloatEngine, (value: number) => Column> = {
  postgres: (value) => sql`cast(${numberText(value)} as float8)`,
  mysql: (value) => sql`cast(${numberText(value)} as double)`,
}

/**
 * The number a value equals in a point check against a float, `undefined` when it equals none
 * (a string other than a number's own text, a bigint no double holds, a Date), `null` for NaN.
 */
function floatOf(value: unknown): number | null | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? null : value
    case 'bigint': {
      const double = Number(value)
      return Number.isFinite(double) && BigInt(double) === value ? double : undefined
    }
    case 'boolean':
      return value ? 1 : 0
    case 'string': {
      const double = Number(value)
      return !Number.isNaN(double) && numberText(double) === value ? double : undefined
    }
    default:
      return undefined
  }
}

/**
 * `column op value` for a float column (PostgreSQL's real and double precision, MariaDB's FLOAT
 * and DOUBLE), compared as numbers: the engines print a float otherwise than JavaScript
 * (PostgreSQL `1e-05` and `1e+15`, MariaDB `1e15` and `0.0000001`, both `-0`), so its text
 * would not be the text of the number the point check compares.
 */
function floatCompare(
  engine: FloatEngine,
  column: Column,
  op: CompareOperator,
  value: unknown,
): RawBuilder<SqlBool> {
  const x = FLOAT_VALUE[engine](column)
  // A finite number against ±Infinity, where MariaDB has no infinity to write.
  const beyond = (target: number) => engine === 'mysql' && isInfinite(target)
  if (op === '=' || op === '<>') {
    const target = floatOf(value)
    if (target === null) return UNKNOWN
    if (target === undefined || beyond(target)) return known(x, false, op === '<>')
    return sql<SqlBool>`${x} ${OPERATORS[op]} ${AS_FLOAT[engine](target)}`
  }
  const test = orderTest(op)
  if (value instanceof Date) {
    // Only an infinite float orders against a Date, as an infinite time.
    if (engine === 'mysql') return UNKNOWN
    return sql<SqlBool>`case when ${x} = 'Infinity' then ${sqlConstant(test(1))} when ${x} = '-Infinity' then ${sqlConstant(test(-1))} end`
  }
  const bound = orderNumber(value)
  if (bound === undefined) return UNKNOWN
  const [floatOp, target] = floatBound(op, bound)
  if (beyond(target)) return known(x, false, orderTest(floatOp)(target > 0 ? -1 : 1))
  return sql<SqlBool>`${x} ${OPERATORS[floatOp]} ${AS_FLOAT[engine](target)}`
}

/**
 * A json number as the double JSON.parse makes of it: past a double's range ±Infinity or ±0,
 * where PostgreSQL's cast to float8 raises (and a row holding `1e400` failed every filter).
 * The bounds are halfway to the next double, to 22 digits.
 */
function pgJsonNumber(json: Column): Column {
  const n = sql`cast(${json} #>> '{}' as numeric)`
  return sql`case when abs(${n}) >= 1.797693134862315807937e308 then cast(case when ${n} > 0 then 'Infinity' else '-Infinity' end as float8) when abs(${n}) <= 2.470328229206232720882e-324 then cast(case when ${n} < 0 then '-0' else '0' end as float8) else cast(${n} as float8) end`
}

/**
 * A json or jsonb column, which node-postgres parses: a string compares as text, a number as a
 * float, a boolean as one; an object, an array or null is unknown, as in the point check.
 */
function pgJsonCompare(column: Column, op: CompareOperator, value: unknown): RawBuilder<SqlBool> {
  const json = sql`cast(${column} as jsonb)`
  const text = pgCompare(sql`(${json} #>> '{}')`, { kind: 'text', notNull: false }, op, value)
  const number = floatCompare('postgres', pgJsonNumber(json), op, value)
  const bool = pgDomain(sql`cast(${json} as boolean)`, false, [false, true], op, value)
  return sql<SqlBool>`case jsonb_typeof(${json}) when 'string' then ${text} when 'number' then ${number} when 'boolean' then ${bool} end`
}

/** `column op value` on PostgreSQL, for a column of a known type. */
function pgCompare(
  column: Column,
  type: PgColumn,
  op: CompareOperator,
  value: unknown,
): RawBuilder<SqlBool> {
  // Types that read back as no text of theirs.
  if (type.kind === 'float') return floatCompare('postgres', column, op, value)
  if (type.kind === 'json') return pgJsonCompare(column, op, value)
  if (type.kind === 'object') return UNKNOWN
  if (type.kind === 'date') return pgDateCompare(column, type.local, op, value)
  const equality = op === '=' || op === '<>'
  if (typeof value === 'string' && value.includes('\0')) {
    // No column holds a NUL byte (PostgreSQL refuses it as input), nor reads back as a text
    // holding one. (No value holds half a surrogate pair: isComparable.)
    if (op === '=' || op === '<>') return known(column, type.notNull, op === '<>')
    ;[op, value] = beforeNul(op, value)
  }
  if (type.kind === 'char') return guardedCompare('postgres', pgPadded(column), op, value)
  const operator = OPERATORS[op]
  switch (type.kind) {
    case 'integer':
      return pgInteger(column, type, op, value)
    case 'boolean':
      return pgDomain(column, type.notNull, [false, true], op, value)
    case 'enum':
      return pgDomain(column, type.notNull, type.labels, op, value)
    case 'text':
    case 'uuid': {
      if (equality) {
        const text = textOf(value)
        const holds = text !== undefined && (type.kind === 'text' || UUID.test(text))
        if (!holds) return known(column, type.notNull, op === '<>')
        return sql<SqlBool>`${column} ${operator} ${text}`
      }
      if (typeof value === 'string' && !NUMERAL.test(value)) {
        // By code point ("C"), and unknown against a numeral's text (a uuid never is one).
        const ordered = sql<SqlBool>`cast(${column} as text) collate "C" ${operator} ${value}`
        return type.kind === 'uuid'
          ? ordered
          : sql<SqlBool>`case when ${column} ~ ${NUMERAL_SQL} then null else ${ordered} end`
      }
      const bound = orderNumber(value)
      if (bound === undefined || type.kind === 'uuid') return known(column, type.notNull, null)
      return pgNumeralOrder(column, op as Ordering, bound)
    }
    case 'other':
      return guardedCompare('postgres', column, op, value)
  }
}

/**
 * `column op value` in SQL with the point check's answer for every value the column may hold:
 * never true through a conversion, never an error for a value of another kind. `value` is
 * comparable and not null.
 */
export function sqlCompare(
  column: SqlColumn,
  op: CompareOperator,
  value: unknown,
): RawBuilder<SqlBool> {
  if (column.engine === 'postgres') return pgCompare(column.ref, column.type, op, value)
  if (column.engine === 'sqlite') return guardedCompare('sqlite', column.ref, op, value)
  if (column.type === 'object') return UNKNOWN
  if (column.type === 'date') return mysqlDateCompare(column.ref, op, value)
  if (column.type === 'float') return floatCompare('mysql', column.ref, op, value)
  if (column.type === 'number' || column.type === 'integer') {
    return mysqlNumberCompare(column.ref, op, value, column.type === 'integer')
  }
  // A UUID, ENUM, SET or INET6 column compares with any other kind as its text (ENUM = 1 would
  // test the label's position; UUID = 1 raises), a latin1 one as the UTF-8 mysql2 reads.
  const ref = column.type === 'typed-text' ? mysqlText(column.ref) : column.ref
  return guardedCompare('mysql', ref, op, value)
}

/**
 * `column in (values)`, with the point check's answer for every row as sqlCompare's `=` for
 * each value would give, in a shape whose size in parameters and terms does not grow with the
 * list (a principal's list may hold any number of values). `values` are comparable and not
 * null, at least one.
 */
export function sqlInList(column: SqlColumn, values: readonly unknown[]): RawBuilder<SqlBool> {
  if (column.engine === 'postgres') return pgInList(column.ref, column.type, values)
  if (column.engine === 'sqlite') return sqliteInList(column.ref, values)
  return mysqlInList(column, values)
}

/**
 * `column in (values)` on MariaDB: the column's value as sqlCompare's `=` reads it, among the
 * values it equals, read from ONE JSON array by `json_table`, which MariaDB hashes once per
 * query (a term per value made it test each row against every value: seconds per thousand
 * rows for a list of 70,000).
 */
function mysqlInList(
  column: SqlColumn & { engine: 'mysql' },
  values: readonly unknown[],
): RawBuilder<SqlBool> {
  const { ref, type } = column
  const among = (left: RawBuilder<unknown>, targets: ReadonlySet<string | number>, of: string) => {
    const json = JSON.stringify([...targets])
    return sql<SqlBool>`${left} in (select ${sql.raw(of === 'double' ? 'v' : 'convert(v using binary)')} from json_table(${json}, '$[*]' columns (v ${sql.raw(of)} path '$')) as list)`
  }
  switch (type) {
    case 'object':
      return UNKNOWN
    case 'date': {
      // As mysqlDateCompare: the instant read, cut to the millisecond, among the Dates (which
      // mysql2 writes in UTC, as core's pools read), for a date of the calendar only.
      const targets = new Set<string>()
      for (const value of values) {
        if (!(value instanceof Date)) continue
        const at = value.getTime()
        if (at >= MYSQL_FIRST_DATE && at < MYSQL_AFTER_DATES) {
          targets.add(value.toISOString().replace('T', ' ').replace('Z', ''))
        }
      }
      const calendar = mysqlCalendarDate(ref)
      if (targets.size === 0) return sql<SqlBool>`case when ${calendar} then ${FALSE} end`
      const json = JSON.stringify([...targets])
      const equal = sql<SqlBool>`cast(${ref} as datetime(3)) in (select v from json_table(${json}, '$[*]' columns (v datetime(3) path '$')) as list)`
      return sql<SqlBool>`(${equal} and ${calendar} or not ${calendar} and null)`
    }
    case 'float': {
      // As floatCompare: the double the column's text spells.
      const targets = new Set<number>()
      for (const value of values) {
        const target = floatOf(value)
        if (typeof target === 'number' && !isInfinite(target))
          targets.add(target === 0 ? 0 : target)
      }
      const x = FLOAT_VALUE.mysql(ref)
      return targets.size === 0 ? known(x, false, false) : among(x, targets, 'double')
    }
    case 'integer':
    case 'number': {
      // As mysqlNumberCompare: the column's bytes are the numeral's.
      const targets = new Set<string>()
      for (const value of values) {
        const text = typeof value === 'object' ? undefined : textOf(value)
        if (text !== undefined && MYSQL_NUMBER_TEXT.test(text)) targets.add(text)
      }
      return targets.size === 0
        ? known(ref, false, false)
        : among(binary(ref), targets, 'longtext character set utf8mb4')
    }
    default: {
      // As guardedCompare: the column's text, byte for byte (a typed text's in UTF-8).
      const text = type === 'typed-text' ? mysqlText(ref) : ref
      const targets = new Set<string>()
      for (const value of values) {
        const target = guardedText(value)
        if (target !== undefined) targets.add(target)
      }
      return targets.size === 0
        ? known(text, false, false)
        : among(binary(text), targets, 'longtext character set utf8mb4')
    }
  }
}

/**
 * `column in (values)` on PostgreSQL with ONE bound array, `= any(cast($1 as type[]))`, whatever
 * the column's type: each value becomes the one of the column's type it equals in the point
 * check, or drops out (it equals no row), or makes the answer unknown. One comparison per value
 * was a parameter or more each: past PostgreSQL's 65,535 a principal's long list failed `where`
 * where `can` answered. An index of the column serves `= any` as it serves `=` where the column
 * is compared bare. `values` are comparable and not null, at least one.
 */
function pgInList(ref: Column, type: PgColumn, values: readonly unknown[]): RawBuilder<SqlBool> {
  switch (type.kind) {
    case 'boolean':
      return pgDomainIn(ref, type.notNull, [false, true], values)
    case 'enum':
      return pgDomainIn(ref, type.notNull, type.labels, values)
    case 'object':
      return UNKNOWN
    case 'date':
      return pgDateInList(ref, type.local, values)
    case 'json': {
      // As pgJsonCompare, each kind of json value against the list values of its kind.
      const json = sql`cast(${ref} as jsonb)`
      const text = pgArrayIn(PG_LIST_FORMS.text, sql`(${json} #>> '{}')`, false, values)
      const number = pgArrayIn(PG_LIST_FORMS.float, pgJsonNumber(json), false, values)
      const bool = pgDomainIn(sql`cast(${json} as boolean)`, false, [false, true], values)
      return sql<SqlBool>`case jsonb_typeof(${json}) when 'string' then ${text} when 'number' then ${number} when 'boolean' then ${bool} end`
    }
    default:
      return pgArrayIn(PG_LIST_FORMS[type.kind], ref, type.notNull, values, type)
  }
}

/** A column of few values (pgDomain) against a list: the values equal to one of the list's. */
function pgDomainIn(
  column: Column,
  notNull: boolean,
  domain: readonly (boolean | string)[],
  values: readonly unknown[],
): RawBuilder<SqlBool> {
  const answers = domain.map((item) => {
    let answer: Truth = false
    for (const value of values) {
      const truth = compareTruth(item, '=', value)
      if (truth === true) return true
      if (truth === null) answer = null
    }
    return answer
  })
  return pgDomainAnswers(column, notNull, domain, answers)
}

/** `form.left(column) = any(cast($1 as form.array))` for the values' targets (PG_LIST_FORMS). */
function pgArrayIn(
  form: PgListForm,
  column: Column,
  notNull: boolean,
  values: readonly unknown[],
  type?: PgColumn,
): RawBuilder<SqlBool> {
  const targets = new Set<string>()
  let unknown = false
  for (const value of values) {
    // No column holds a NUL byte (PostgreSQL refuses it as input).
    const target =
      typeof value === 'string' && value.includes('\0') ? undefined : form.target(value, type)
    if (target === null) unknown = true
    else if (target !== undefined) targets.add(target)
  }
  const left = form.left(column)
  // Not `= any('{}')` for no target: that is false for a NULL too, where the point check is
  // unknown (and `not` of it true).
  const equal =
    targets.size > 0
      ? sql<SqlBool>`${left} = any(cast(${[...targets]} as ${form.array}))`
      : known(left, notNull && form !== PG_LIST_FORMS.float, false)
  return unknown ? sql<SqlBool>`(${equal} or null)` : equal
}

/**
 * A date, timestamp or timestamptz column against a list (pgDateCompare's `=` for each value):
 * the instant node-postgres reads (pgReadFace, or the time cut to the millisecond) among the
 * list's Dates and infinities, as ONE timestamptz array; a time read as no Date is unknown.
 * Unlike pgDateOrder's ranges, no index of the column serves it: the read instant is computed.
 */
function pgDateInList(column: Column, local: boolean, values: readonly unknown[]) {
  const targets = new Set<string>()
  for (const value of values) {
    if (value instanceof Date) {
      // Before the first time PostgreSQL holds, no row reads as it (and the cast would raise).
      const at = value.getTime()
      if (at >= PG_FIRST_TIME) targets.add(faceText(at).replace(/( BC)?$/, '+00$1'))
    } else if (isInfinite(value) || value === 'Infinity' || value === '-Infinity') {
      // Read back as the numbers ±Infinity, which equal their text too.
      targets.add(Number(value) > 0 ? 'infinity' : '-infinity')
    }
  }
  const { readable, unread } = pgReadable(column, local)
  if (targets.size === 0) return pgReadAs(column, local, known(column, false, false))
  const read = local ? pgReadFace(column) : sql`date_trunc('milliseconds', ${column})`
  return sql<SqlBool>`(${read} = any(cast(${[...targets]} as timestamptz[])) and ${readable} or ${unread})`
}

/**
 * `column in (values)` on SQLite as equalText's terms for all the values at once: the texts, the
 * integers, the reals and the texts holding U+FFFD each ONE bound JSON array read by
 * `json_each`, so a long list takes no parameters past SQLite's 32,766 (a term per value did,
 * for fractions and U+FFFD). `col in (select value from json_each(?))` finds the rows through an
 * index of the column as `col = ?` does; the storage-class and byte tests beside each decide as
 * equalText's do. Only ±Infinity, which JSON cannot write, keep a term each.
 */
function sqliteInList(ref: Column, values: readonly unknown[]): RawBuilder<SqlBool> {
  const texts = new Set<string>()
  const integers = new Set<bigint>()
  const reals = new Set<string>()
  const infinities = new Set<number>()
  const replaced = new Set<string>()
  // The text every replaced one starts with before its first U+FFFD (see equalText).
  let common: string | undefined
  let dated = false
  for (const value of values) {
    if (typeof value === 'object') {
      dated = true
      continue
    }
    const equal = typeof value === 'boolean' ? (value ? 1 : 0) : (value as string | number | bigint)
    const text = typeof equal === 'string' ? equal : numberText(equal)
    texts.add(text)
    const at = text.indexOf('\ufffd')
    if (at >= 0) {
      replaced.add(text)
      common = commonPrefix(common ?? text.slice(0, at), text.slice(0, at))
    }
    const integer =
      typeof equal === 'bigint' ? equal : INTEGER_TEXT.test(text) ? BigInt(text) : undefined
    if (integer !== undefined && integer <= MAX_INT64 && integer >= -MAX_INT64 - 1n) {
      integers.add(integer)
    }
    const double = Number(text)
    const real =
      typeof equal === 'bigint'
        ? Number.isFinite(double) && BigInt(double) === equal
        : !Number.isNaN(double) && numberText(double) === text
    if (!real) continue
    if (isInfinite(double)) infinities.add(double)
    // A whole double in a 64-bit integer's range as its exact digits (JSON.stringify writes 2^60
    // as 1152921504606847000, which SQLite reads as that other integer), another one as its
    // shortest text, which SQLite reads back as the same double.
    else if (Number.isInteger(double) && Math.abs(double) < 2 ** 63) {
      reals.add(BigInt(double).toString())
    } else reals.add(numberText(double))
  }
  const among = (json: string) => sql`${ref} in (select value from json_each(${json}))`
  const terms: RawBuilder<SqlBool>[] = []
  if (texts.size > 0) {
    const json = JSON.stringify([...texts])
    terms.push(
      sql<SqlBool>`${among(json)} and typeof(${ref}) in ('text', 'null') and cast(${ref} as blob) in (select cast(value as blob) from json_each(${json}))`,
    )
  }
  const numbers = (set: ReadonlySet<unknown>) => `[${[...set].join(',')}]`
  if (integers.size > 0) {
    terms.push(sql<SqlBool>`${among(numbers(integers))} and typeof(${ref}) = 'integer'`)
  }
  if (reals.size > 0) {
    terms.push(sql<SqlBool>`${among(numbers(reals))} and typeof(${ref}) = 'real'`)
  }
  for (const infinity of infinities) {
    terms.push(sql<SqlBool>`${ref} = ${sqliteInfinity(infinity)} and typeof(${ref}) = 'real'`)
  }
  if (common !== undefined) {
    // One index range from the text all of them start with up to the BLOBs, then each row's
    // text as read among them.
    terms.push(
      sql<SqlBool>`${ref} >= ${common} and ${ref} < x'' and typeof(${ref}) = 'text' and ${sqliteRead(ref)} in (select value from json_each(${JSON.stringify([...replaced])}))`,
    )
  }
  // A Date equals no value SQLite reads back: false, or unknown for a NULL, as every other term
  // is already (and a term no index serves would make SQLite scan the table for the whole `or`).
  if (terms.length === 0 && dated) terms.push(known(ref, false, false))
  return sqliteEqual(ref, sql<SqlBool>`(${sql.join(terms, sql` or `)})`)
}

/** The longest text both start with, not ending in half a surrogate pair. */
function commonPrefix(a: string, b: string): string {
  let length = 0
  while (length < a.length && length < b.length && a[length] === b[length]) length++
  const last = a.charCodeAt(length - 1)
  return a.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length)
}

interface PgListForm {
  readonly left: (column: Column) => Column
  readonly array: RawBuilder<unknown>
  readonly target: (value: unknown, type?: PgColumn) => string | null | undefined
}

/**
 * Per column type compared through one array: the expression compared, the array type, and the
 * text of the value of that type a list value equals (`undefined`: none, so no row; `null`:
 * unknown for every row), as pgCompare's `=` decides. A Record of every such kind, so a kind
 * added to PgColumn cannot fall back to a comparison per value.
 */
const PG_LIST_FORMS: Readonly<
  Record<Exclude<PgColumn['kind'], 'boolean' | 'enum' | 'object' | 'date' | 'json'>, PgListForm>
> = {
  integer: {
    left: (column) => column,
    array: sql.raw('int8[]'),
    target: (value, type) => {
      const target = integerOf(value)
      if (type?.kind !== 'integer' || target === undefined) return undefined
      return target < type.min || target > type.max ? undefined : String(target)
    },
  },
  text: { left: (column) => column, array: sql.raw('text[]'), target: textOf },
  uuid: {
    left: (column) => column,
    array: sql.raw('uuid[]'),
    target: (value) => {
      const text = textOf(value)
      return text !== undefined && UUID.test(text) ? text : undefined
    },
  },
  // As guardedCompare's equality: the column's text against the value's (a boolean as 1 or 0).
  char: {
    left: (column) => sql`cast(${pgPadded(column)} as text)`,
    array: sql.raw('text[]'),
    target: guardedText,
  },
  other: {
    left: (column) => sql`cast(${column} as text)`,
    array: sql.raw('text[]'),
    target: guardedText,
  },
  float: {
    left: FLOAT_VALUE.postgres,
    array: sql.raw('float8[]'),
    target: (value) => {
      const target = floatOf(value)
      return target === null || target === undefined ? target : numberText(target)
    },
  },
}

/** The text guardedCompare compares a column's text with for `=`; none for a Date. */
function guardedText(value: unknown): string | undefined {
  if (typeof value === 'object') return undefined
  if (typeof value === 'boolean') return value ? '1' : '0'
  return typeof value === 'string' ? value : numberText(value as number | bigint)
}

/**
 * MariaDB: the column holds a date of the calendar. Without NO_ZERO_DATE and NO_ZERO_IN_DATE in
 * sql_mode (MariaDB's default has neither) a DATE, DATETIME or TIMESTAMP stores `0000-00-00`,
 * a zero month or day, and with ALLOW_INVALID_DATES a 31st of February, which core's pools read
 * as an invalid Date: unknown to the point check, so unknown here, where MariaDB compared the
 * stored value (`lt('published_at', now)` passed a zero date). month() and dayofmonth() read
 * such a value without a warning, so a strict UPDATE does not refuse them.
 */
function mysqlCalendarDate(column: Column): RawBuilder<SqlBool> {
  const year = sql`year(${column})`
  const leap = sql`(${year} % 4 = 0 and (${year} % 100 <> 0 or ${year} % 400 = 0))`
  return sql<SqlBool>`(month(${column}) between 1 and 12 and dayofmonth(${column}) between 1 and case month(${column}) when 2 then 28 + ${leap} when 4 then 30 when 6 then 30 when 9 then 30 when 11 then 30 else 31 end)`
}

// MariaDB's DATE, DATETIME and TIMESTAMP hold the years 0 to 9999.
const MYSQL_FIRST_DATE = Date.parse('0000-01-01T00:00:00Z')
const MYSQL_AFTER_DATES = Date.parse('+010000-01-01T00:00:00Z')

/** PostgreSQL: `'infinity'` or `'-infinity'` of a date or timestamp (local) or a timestamptz. */
function pgInfinity(local: boolean, sign: number): RawBuilder<unknown> {
  return sql`cast(${sign > 0 ? 'infinity' : '-infinity'} as ${sql.raw(local ? 'timestamp' : 'timestamptz')})`
}

/** PostgreSQL: a face (wall-clock.ts) as a timestamp, or an instant as a timestamptz. */
function pgTime(local: boolean, face: Face): RawBuilder<unknown> {
  const text = faceText(face)
  return local
    ? sql`cast(${text} as timestamp)`
    : sql`cast(${text.replace(/( BC)?$/, '+00$1')} as timestamptz)`
}

// The earliest time a date, timestamp or timestamptz holds, 4714-11-24 BC, as a face or an
// instant: a bound before it was refused as input (22008, a 500).
const PG_FIRST_TIME = Date.UTC(-4713, 10, 24)

/**
 * PostgreSQL: the times after the last that node-postgres reads as a Date (275760-09-13), which
 * it reads as an invalid Date: unknown to the point check, so unknown in SQL, where they
 * compared as times (`gt('expires_at', p.now)` let them through). `readable` is true for the
 * other times ('infinity' too) and NULL for those; `unread` is NULL for those and false else.
 */
function pgReadable(column: Column, local: boolean) {
  const last = pgTime(local, local ? lastFace() : LAST_DATE)
  const infinity = pgInfinity(local, 1)
  return {
    readable: sql<SqlBool>`(${column} <= ${last} or ${column} = ${infinity} or null)`,
    unread: sql<SqlBool>`(${column} > ${last} and ${column} < ${infinity} and null)`,
  }
}

/** `answer` for the times node-postgres reads, unknown for the others (pgReadable). */
function pgReadAs(column: Column, local: boolean, answer: RawBuilder<SqlBool>) {
  if (answer === UNKNOWN) return UNKNOWN
  const { readable, unread } = pgReadable(column, local)
  return sql<SqlBool>`(${answer} and ${readable} or ${unread})`
}

/** Ranges of faces or instants, ascending and disjoint, merged where they touch. */
function mergeRanges(ranges: readonly FaceRange[]): FaceRange[] {
  const merged: [Face, Face][] = []
  for (const [from, to] of [...ranges].sort((a, b) => a[0] - b[0])) {
    if (from >= to) continue
    const last = merged[merged.length - 1]
    if (last !== undefined && last[1] >= from) last[1] = Math.max(last[1], to)
    else merged.push([from, to])
  }
  return merged
}

/** The faces or instants in none of `ranges`. */
function complementRanges(ranges: readonly FaceRange[]): FaceRange[] {
  const gaps: FaceRange[] = []
  let from = Number.NEGATIVE_INFINITY
  for (const [start, end] of ranges) {
    gaps.push([from, start])
    from = end
  }
  gaps.push([from, Number.POSITIVE_INFINITY])
  return mergeRanges(gaps)
}

/**
 * PostgreSQL: a date, timestamp or timestamptz column against a Date. The column is read as
 * node-postgres reads it: cut to the millisecond, a date or timestamp as the instant its face
 * shows here (wall-clock.ts: around a change of offset, faces in a gap or an overlap read out
 * of order), past 275760 as no Date. The answer is the union of the ranges of the column whose
 * reading passes, each compared with the bare column (an index serves it); away from a change
 * of offset that is one comparison, `"at" < $1`. 'infinity' and '-infinity' order after and
 * before every Date and equal none.
 */
function pgDateOrder(
  column: Column,
  local: boolean,
  op: CompareOperator,
  at: number,
): RawBuilder<SqlBool> {
  const before = (bound: number): FaceRange[] =>
    local ? facesBefore(bound) : [[Number.NEGATIVE_INFINITY, Math.min(bound, LAST_DATE + 1)]]
  const ranges: Record<CompareOperator, () => FaceRange[]> = {
    '<': () => before(at),
    '<=': () => before(at + 1),
    '>=': () => complementRanges(before(at)),
    '>': () => complementRanges(before(at + 1)),
    '=': () => complementRanges(mergeRanges([...complementRanges(before(at + 1)), ...before(at)])),
    '<>': () => mergeRanges([...before(at), ...complementRanges(before(at + 1))]),
  }
  const last = local ? lastFace() : LAST_DATE
  const { readable, unread } = pgReadable(column, local)
  const arms: RawBuilder<SqlBool>[] = []
  for (const [from, to] of ranges[op]()) {
    // Past the last face only 'infinity' (and faces read as no Date: readable) is read.
    const end = to === Number.POSITIVE_INFINITY ? to : Math.min(to, last + 1)
    if (from >= end) continue
    const terms: RawBuilder<SqlBool>[] = []
    if (from > Number.NEGATIVE_INFINITY) {
      terms.push(
        from <= PG_FIRST_TIME
          ? sql<SqlBool>`${column} > ${pgInfinity(local, -1)}`
          : sql<SqlBool>`${column} >= ${pgTime(local, from)}`,
      )
    }
    if (end === Number.POSITIVE_INFINITY) terms.push(readable)
    else if (end > PG_FIRST_TIME) terms.push(sql<SqlBool>`${column} < ${pgTime(local, end)}`)
    else if (from === Number.NEGATIVE_INFINITY) {
      terms.push(sql<SqlBool>`${column} = ${pgInfinity(local, -1)}`)
    } else continue
    arms.push(
      terms.length === 1
        ? (terms[0] as RawBuilder<SqlBool>)
        : sql<SqlBool>`(${sql.join(terms, sql` and `)})`,
    )
  }
  arms.push(unread)
  return sql<SqlBool>`(${sql.join(arms, sql` or `)})`
}

/**
 * PostgreSQL: a date, timestamp or timestamptz column against a value, as the point check reads
 * the column (pgDateOrder, pgReadable). ±Infinity (and their text, for `eq`) are the times
 * 'infinity' and '-infinity'; a number orders against those only, another value against none.
 */
function pgDateCompare(
  column: Column,
  local: boolean,
  op: CompareOperator,
  value: unknown,
): RawBuilder<SqlBool> {
  const equality = op === '=' || op === '<>'
  if (value instanceof Date) return pgDateOrder(column, local, op, value.getTime())
  // Read back as the numbers ±Infinity, which equal their text too ('Infinity').
  const infinite = isInfinite(value)
    ? value
    : equality && (value === 'Infinity' || value === '-Infinity')
      ? Number(value)
      : undefined
  if (infinite !== undefined) {
    return pgReadAs(
      column,
      local,
      sql<SqlBool>`${column} ${OPERATORS[op]} ${pgInfinity(local, infinite)}`,
    )
  }
  const bound = equality ? undefined : orderNumber(value)
  if (bound === undefined) {
    return pgReadAs(column, local, known(column, false, equality ? op === '<>' : null))
  }
  // A number orders against an infinite time as a number, against no other time.
  const test = orderTest(op as Ordering)
  return sql<SqlBool>`case when ${column} = ${pgInfinity(local, 1)} then ${sqlConstant(test(1))} when ${column} = ${pgInfinity(local, -1)} then ${sqlConstant(test(-1))} end`
}

/**
 * MariaDB: `column op at` (cutOrder). A bound past the years a column holds is before or after
 * every row (mysql2 wrote such a Date as text MariaDB compared as no date: '10000-01-01' came
 * before every date).
 */
function mysqlDateBound(column: Column, op: '<' | '>=', bound: number): RawBuilder<SqlBool> {
  if (bound < MYSQL_FIRST_DATE) return op === '<' ? FALSE : TRUE
  if (bound >= MYSQL_AFTER_DATES) return op === '<' ? TRUE : FALSE
  return sql<SqlBool>`${column} ${OPERATORS[op]} ${new Date(bound)}`
}

// Each ordering of a column cut to the millisecond as one of the column: `cut <= D` is
// `column < D + 1 ms`.
const CUT_ORDER: Record<Ordering, readonly ['<' | '>=', number]> = {
  '<': ['<', 0],
  '<=': ['<', 1],
  '>': ['>=', 1],
  '>=': ['>=', 0],
}

/**
 * `column op at` for a column read cut to the millisecond, as node-postgres and core's MariaDB
 * pools read one with microseconds: `bound(op, time)` compares the column with a time, and the
 * bounds move instead of the column (an index of it serves them). `dt = D` was false for a
 * timestamp at D.000500 the point check equals with D, and `dt > D` true.
 */
function cutOrder(
  op: CompareOperator,
  at: number,
  bound: (op: '<' | '>=', at: number) => RawBuilder<SqlBool>,
): RawBuilder<SqlBool> {
  if (op !== '=' && op !== '<>') {
    const [boundOp, offset] = CUT_ORDER[op]
    return bound(boundOp, at + offset)
  }
  const from = bound('>=', at)
  const to = bound('<', at + 1)
  const equal =
    from === FALSE || to === FALSE
      ? FALSE
      : from === TRUE
        ? to
        : to === TRUE
          ? from
          : sql<SqlBool>`(${from} and ${to})`
  if (op === '=') return equal
  return equal === FALSE ? TRUE : equal === TRUE ? FALSE : sql<SqlBool>`not (${equal})`
}

/**
 * MariaDB: a DATE, DATETIME or TIMESTAMP column against a value, for the rows that hold a date
 * of the calendar (mysqlCalendarDate); unknown for the others, as in the point check. A Date
 * compares as the instant the column is read as; another value never equals a date and orders
 * against none, but ±Infinity, an infinite time.
 */
function mysqlDateCompare(
  column: Column,
  op: CompareOperator,
  value: unknown,
): RawBuilder<SqlBool> {
  let answer: RawBuilder<SqlBool>
  if (value instanceof Date) {
    answer = cutOrder(op, value.getTime(), (boundOp, at) => mysqlDateBound(column, boundOp, at))
  } else if (op === '=' || op === '<>') answer = sqlConstant(op === '<>')
  else if (isInfinite(value)) answer = sqlConstant(orderTest(op)(value > 0 ? -1 : 1))
  else return UNKNOWN
  const calendar = mysqlCalendarDate(column)
  if (answer === TRUE || answer === FALSE) {
    return sql<SqlBool>`case when ${calendar} then ${answer} end`
  }
  // The case's answer, with the bare comparison first: MariaDB serves no range of an index
  // through `case when calendar then col < ? end`, so every date rule scanned the whole index.
  // A NULL in an OR is false at the top of a WHERE, where MariaDB drops the second arm; it is
  // there for `not`, which must stay unknown for a date no calendar holds.
  return sql<SqlBool>`(${answer} and ${calendar} or not ${calendar} and null)`
}

/**
 * `column is null` (or `is not null`). MariaDB answers `is null` true for a NOT NULL DATE or
 * DATETIME holding `0000-00-00` (for ODBC), which core's pools read as an invalid Date, no
 * NULL; month() of such a value is 0, not NULL.
 */
export function sqlIsNull(column: SqlColumn, isNull: boolean): RawBuilder<SqlBool> {
  if (column.engine === 'mysql' && column.type === 'date') {
    const nulled = sql<SqlBool>`(${column.ref} is null and month(${column.ref}) is null)`
    return isNull ? nulled : sql<SqlBool>`not ${nulled}`
  }
  return sql<SqlBool>`${column.ref} ${sql.raw(isNull ? 'is null' : 'is not null')}`
}

// The numerals a MariaDB number column's text may be: at most 65 digits, 38 after the point
// (DECIMAL's bounds, wider than every integer's). A longer whole part read as a number raises
// (1916) in a strict UPDATE too.
const MYSQL_NUMBER_TEXT = /^-?(?:0|[1-9]\d{0,64})(?:\.\d{1,38})?$/

/**
 * MariaDB: a number column, whose text (as mysql2 reads it) is a numeral, against a value. A
 * string that is no numeral never reaches the SQL: MariaDB would read it as a number, which a
 * strict UPDATE refuses (1292 "Truncated incorrect DECIMAL value": a 500 where the
 * point check answers "no rows"), and the answer is the same for every row anyway (unequal,
 * unordered). A numeral is a number to MariaDB as it is: the plain `=` uses an index.
 */
function mysqlNumberCompare(
  column: Column,
  op: CompareOperator,
  value: unknown,
  integer: boolean,
): RawBuilder<SqlBool> {
  if (typeof value === 'object') return guardedCompare('mysql', column, op, value)
  const text = textOf(value)
  if (op === '=' || op === '<>') {
    if (text === undefined || !MYSQL_NUMBER_TEXT.test(text))
      return known(column, false, op === '<>')
    // mysql2 writes a number as its digits; a numeral's text is a number to MariaDB.
    const equal = sql<SqlBool>`(${column} = ${typeof value === 'number' ? value : binary(text)} and ${binary(column)} = ${binary(text)})`
    return op === '=' ? equal : sql<SqlBool>`not (${equal})`
  }
  const bound = orderNumber(value)
  if (bound === undefined) return UNKNOWN
  // An integer column orders as the integers it holds, exactly against an integer literal (a
  // string or a double would compare as doubles past 2^53), so an index serves the ordering.
  if (integer) {
    return integerOrder(column, MYSQL_INTEGERS, op as Ordering, bound, (target) =>
      sql.raw(String(target)),
    )
  }
  return ORDER_NUMBER.mysql(column, op as Ordering, bound)
}

/**
 * Without the column's type: the column's text decides where kinds may differ (MariaDB, SQLite,
 * and PostgreSQL columns of types pg-columns.ts does not tell apart).
 */
function guardedCompare(
  engine: DatabaseEngine,
  column: Column,
  op: CompareOperator,
  value: unknown,
): RawBuilder<SqlBool> {
  // A Date equals or orders against a Date only, and another kind against no Date: neither
  // reaches here with the other (SQLite reads no Date back; MariaDB's dates have
  // mysqlDateCompare). ±Infinity orders against a Date as an infinite time: a float column's
  // infinities (PostgreSQL's float4 and float8, SQLite's REAL) order against a Date.
  if (typeof value === 'object') {
    if (op === '=' || op === '<>') {
      if (engine !== 'sqlite') return known(column, false, op === '<>')
      const equal = sqliteEqual(column, known(column, false, false))
      return op === '=' ? equal : sql<SqlBool>`not (${equal})`
    }
    const test = orderTest(op)
    // PostgreSQL's floats have a kind of their own (floatCompare).
    if (engine !== 'sqlite') return UNKNOWN
    return sql<SqlBool>`case when ${sqliteFloatInfinity(column, '')} then ${sqlConstant(test(1))} when ${sqliteFloatInfinity(column, '-')} then ${sqlConstant(test(-1))} end`
  }
  if (op === '=' || op === '<>') {
    // A boolean counts as 0 or 1, as MariaDB's and SQLite's booleans are and as PostgreSQL reads
    // '0' and '1' for a boolean column.
    const text = equalText(
      engine,
      column,
      typeof value === 'boolean' ? (value ? 1 : 0) : (value as string | number | bigint),
    )
    const equal = engine === 'sqlite' ? sqliteEqual(column, text) : text
    return op === '=' ? equal : sql<SqlBool>`not (${equal})`
  }
  const operator = OPERATORS[op]
  if (typeof value === 'string' && !NUMERAL.test(value)) {
    return ORDER_STRING[engine](column, operator, value)
  }
  // Only a number, a bigint, a boolean or a numeral is left: each orders as a number.
  return ORDER_NUMBER[engine](column, op as Ordering, orderNumber(value) as number | bigint)
}

/**
 * SQLite: an equality, false for a BLOB, made unknown for one, as the point check is for the
 * Uint8Array node:sqlite reads (any column may hold one): `ne` was true for every BLOB. Only
 * BLOBs are `>= x''` (they sort after every other value), which keeps an index usable beside
 * the equality's `col = ?`.
 */
function sqliteEqual(column: Column, equal: RawBuilder<SqlBool>): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${equal} or ${column} >= x'' and null)`
}

/** SQLite: the column holds a REAL's Infinity (sign '') or -Infinity (sign '-'). */
const sqliteFloatInfinity = (column: Column, sign: '' | '-') =>
  sql<SqlBool>`(typeof(${column}) = 'real' and ${column} = ${sql.raw(`${sign}9e999`)})`

/**
 * A float's text as JavaScript writes the number (NaN as NULL). PostgreSQL prints the same
 * shortest digits, but as an exponent from 1e15 and below 1e-4 with two digits at least
 * (`1e-05`, `1e+15`), where JavaScript does from 1e21 and below 1e-6 (`0.00001`, `1e-7`), and
 * -0 as `-0`.
 */
function pgFloatText(value: Column): RawBuilder<unknown> {
  const text = sql`cast(${value} as text)`
  const exponent = sql`cast(substring(${text} from 'e([-+][0-9]+)$') as integer)`
  return sql`case when ${text} = '-0' then '0' when ${exponent} between -6 and 20 then cast(cast(${text} as numeric) as text) else regexp_replace(${text}, 'e([-+])0', ${'e\\1'}) end`
}

// Kinds whose values the point check compares as PostgreSQL's `=` compares them.
const PG_PLAIN_EQUAL: ReadonlySet<PgColumn['kind']> = new Set([
  'integer',
  'boolean',
  'text',
  'uuid',
])

/**
 * A `char(n)`'s or `inet`'s text as node-postgres reads it: a cast to text strips a char(n)'s
 * padding, so `'ab'` equalled the `'ab   '` the point check compares, and adds an inet's mask,
 * so `'::1'` did not equal the `'::1'` it reads. `concat` writes the type's output (and NULL as
 * '', hence the case).
 */
function pgPadded(column: Column): Column {
  return sql`(case when ${column} is null then null else concat(${column}) end)`
}

/** A column's text as the point check compares it with another kind (a boolean as '1'/'0'). */
function pgText(column: SqlColumn & { engine: 'postgres' }): RawBuilder<unknown> {
  switch (column.type.kind) {
    case 'char':
      return pgPadded(column.ref)
    case 'boolean':
      return sql`cast(cast(${column.ref} as integer) as text)`
    case 'float':
      return pgFloatText(FLOAT_VALUE.postgres(column.ref))
    case 'json': {
      const json = sql`cast(${column.ref} as jsonb)`
      return sql`case jsonb_typeof(${json}) when 'string' then ${json} #>> '{}' when 'number' then ${pgFloatText(pgJsonNumber(json))} when 'boolean' then cast(cast(cast(${json} as boolean) as integer) as text) end`
    }
    default:
      return sql`cast(${column.ref} as text)`
  }
}

/**
 * Two columns equal as the point check compares their values: byte for byte on MariaDB, and as
 * texts where kinds may differ (an integer equals the text of its digits); the plain `=` keeps
 * an index usable where the two columns' types agree.
 */
export function sqlColumnsEqual(left: SqlColumn, right: SqlColumn): RawBuilder<SqlBool> {
  const plain = sql<SqlBool>`${left.ref} = ${right.ref}`
  if (left.engine === 'postgres' && right.engine === 'postgres') {
    if (left.type.kind === 'date' && right.type.kind === 'date') {
      // As node-postgres reads them: cut to the millisecond, a face as the instant it reads as
      // here (two faces in and after a spring-forward gap read as one instant), past 275760 as
      // no Date.
      const at = (column: typeof left) =>
        column.type.kind === 'date' && column.type.local
          ? pgReadFace(column.ref)
          : sql`date_trunc('milliseconds', ${column.ref})`
      return sql<SqlBool>`case when ${pgUnread(left)} or ${pgUnread(right)} then null else ${at(left)} = ${at(right)} end`
    }
    const kinds = [left.type.kind, right.type.kind]
    // An array, an interval, a bytea… equals nothing in the point check.
    if (kinds.includes('object')) return UNKNOWN
    // Two enums may be of two types, other types read back as their text (numeric '1.50'), and
    // floats and json as values whose text is not the engine's.
    if (left.type.kind === right.type.kind && PG_PLAIN_EQUAL.has(left.type.kind)) return plain
    if (kinds.includes('date')) {
      // A float's NaN is unknown, not unequal.
      const value = (column: typeof left) =>
        column.type.kind === 'float' ? FLOAT_VALUE.postgres(column.ref) : column.ref
      return sql<SqlBool>`case when ${value(left)} is null or ${value(right)} is null or ${pgUnread(left)} or ${pgUnread(right)} then null else false end`
    }
    return sql<SqlBool>`${pgText(left)} = ${pgText(right)}`
  }
  if (left.engine === 'mysql' && right.engine === 'mysql') {
    // A Buffer or a geometry equals nothing in the point check.
    if (left.type === 'object' || right.type === 'object') return UNKNOWN
    const dates = [left.type, right.type].filter((type) => type === 'date').length
    // Two dates as the instants they are (a DATE is its midnight, UTC as core's sessions are):
    // their bytes differ across types, '2026-10-25' and '2026-10-25 00:00:00.000'. Cut to the
    // millisecond, as read, and unknown where one is no date of the calendar (mysqlCalendarDate).
    if (dates === 2) {
      // As text: date arithmetic gives NULL for the year 0.
      const cut = (column: Column) =>
        sql`concat(date_format(${column}, '%Y-%m-%d %H:%i:%s.'), microsecond(${column}) div 1000)`
      return sql<SqlBool>`case when ${mysqlCalendarDate(left.ref)} and ${mysqlCalendarDate(right.ref)} then ${cut(left.ref)} = ${cut(right.ref)} end`
    }
    if (dates === 1) {
      const [date, other] = left.type === 'date' ? [left, right] : [right, left]
      return sql<SqlBool>`case when ${mysqlCalendarDate(date.ref)} and ${other.ref} is not null then false end`
    }
    // Each column's bytes as the text mysql2 reads: a number's through char, a float's as
    // JavaScript writes it, a typed text's in UTF-8.
    const bytes = (column: typeof left) => {
      switch (column.type) {
        case 'float':
          return sql`cast(${mysqlFloatText(column.ref)} as binary)`
        case 'integer':
        case 'number':
          return sql`cast(cast(${column.ref} as char) as binary)`
        case 'typed-text':
          return sql`cast(${mysqlText(column.ref)} as binary)`
        default:
          return sql`cast(${column.ref} as binary)`
      }
    }
    // Byte for byte alone: the cast's collation may not mix with the other column's.
    if (left.type === 'typed-text' || right.type === 'typed-text') {
      return sql<SqlBool>`${bytes(left)} = ${bytes(right)}`
    }
    const numeric = (column: typeof left) =>
      column.type === 'number' || column.type === 'integer' || column.type === 'float'
    if (numeric(left) && numeric(right)) {
      // A FLOAT as the double its text spells, as mysql2 reads it (0.1, not the 0.100000001… a
      // FLOAT = DOUBLE compares).
      const value = (column: typeof left) =>
        column.type === 'float' ? FLOAT_VALUE.mysql(column.ref) : column.ref
      return sql<SqlBool>`(${value(left)} = ${value(right)} and ${bytes(left)} = ${bytes(right)})`
    }
    // A number never meets a text but as bytes: MariaDB read the text as a number, which a
    // strict UPDATE refuses where it is none. `right` is the outer column: where
    // MariaDB turns the EXISTS into an IN, it caches the answer by the plain `=`'s outer side,
    // so that side is its bytes (see mysqlCachesByCollation).
    if (numeric(left)) return sql<SqlBool>`${bytes(left)} = ${bytes(right)}`
    return sql<SqlBool>`(${left.ref} = ${bytes(right)} and ${bytes(left)} = ${bytes(right)})`
  }
  // SQLite: equal where JavaScript writes the two values alike (SQLITE_JS_TEXT), as the point
  // check compares what node:sqlite reads: a number with a number as numbers, with a text as
  // its text ('1e+21' for the REAL SQLite writes '1.0e+21', '0.3333333333333333' for its
  // '0.333333333333333'), an INTEGER past 2^53 as its digits. A BLOB has no such text: unknown
  // on either side, as in the point check (an inner one through sqliteEqual).
  const outer = sql`${JS_TEXT}(${right.ref})`
  // The values of each storage class the inner column may hold with the outer value's text (the
  // text, the integer of its digits, the double it spells, ±Infinity, which no cast gives): the
  // IN keeps an index of the inner column usable, the texts decide.
  const double = sql`case ${outer} when 'Infinity' then 9e999 when '-Infinity' then -9e999 else cast(${outer} as real) end`
  // An inner TEXT holding bytes no UTF-8 holds equals an outer text with U+FFFD as read (see
  // equalText): its bytes lie from the outer text's before the first U+FFFD up to the BLOBs,
  // a range that is empty (NULL) for any other outer value. An OR of the two, each with the
  // test that decides and no COLLATE, which SQLite serves through an index, term by term.
  const replaced = sql`instr(${outer}, char(65533))`
  const from = sql`case when ${replaced} > 0 then substr(${outer}, 1, ${replaced} - 1) end`
  const decides = sql<SqlBool>`${JS_TEXT}(${left.ref}) = ${outer}`
  return sqliteEqual(
    left.ref,
    sql<SqlBool>`(${left.ref} in (${outer}, cast(${outer} as integer), ${double}) and ${decides} or ${left.ref} >= ${from} and ${left.ref} < x'' and typeof(${left.ref}) = 'text' and ${decides})`,
  )
}

/**
 * Whether MariaDB may answer a subquery linked to this outer column from another row's answer:
 * it caches a correlated subquery's answer by the outer values, compared under their columns'
 * collations, so on a default collation the answer for 'abc' served 'ABC' and 'abc ' (a grant
 * to one key let the others through, a deny of one hid the others). Numbers and dates compare
 * exactly.
 */
export function mysqlCachesByCollation(column: SqlColumn): boolean {
  return (
    column.engine === 'mysql' &&
    column.type !== 'number' &&
    column.type !== 'integer' &&
    column.type !== 'float' &&
    column.type !== 'date'
  )
}

/**
 * Always true, and makes MariaDB evaluate the subquery it sits in for each outer row: it caches
 * no subquery that calls rand().
 */
export const MYSQL_UNCACHED = sql<SqlBool>`rand() >= 0`
