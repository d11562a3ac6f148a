// A numeral in a column ordered against a number, in SQL, as the point check orders it
// (compare-values.ts orderNumber): an integer numeral as the exact integer it spells, one with a
// fraction as the double JavaScript reads it (Number('0.1')). Casting in SQL did neither: MariaDB's
// decimal(65, 30) turned 5e-324 into 0 ('0' lt 5e-324 dropped), PostgreSQL's numeric compared
// '0.1' exactly with the bound's text, and SQLite's cast rounds a long numeral otherwise than
// JavaScript and an integer past 64 bits to a double. So both become exact comparisons of the
// column's text with a decimal constant: for an integer numeral the bound's exact value, for a
// fractional one the point halfway to the next double, where JavaScript's rounding turns.
import type { DatabaseEngine } from '@mortar/core'
import { type RawBuilder, type SqlBool, sql } from 'kysely'
import type { CompareOperator } from './condition.js'

type Column = RawBuilder<unknown>
type Ordering = Exclude<CompareOperator, '=' | '<>'>

/** An exact decimal constant and the ordering a numeral must have against it. */
type Bound = readonly [op: Ordering, decimal: string]

// Every double, and every point halfway between two, is a whole number of 2^-1076.
const FRACTION_BITS = 1076n
const FIVE_POWER = 5n ** FRACTION_BITS
// 2^1024: the point past the largest double, as if a double were there (it is Infinity's place).
const INFINITY_UNITS = 1n << (1024n + FRACTION_BITS)

/** A double (±Infinity at 2^1024) as a whole number of 2^-1076. */
function units(value: number): bigint {
  if (!Number.isFinite(value)) return value > 0 ? INFINITY_UNITS : -INFINITY_UNITS
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, Math.abs(value))
  const bits = view.getBigUint64(0)
  const exponent = Number(bits >> 52n)
  const mantissa = bits & ((1n << 52n) - 1n)
  const whole =
    exponent === 0
      ? mantissa << 2n
      : (mantissa | (1n << 52n)) << (BigInt(exponent) - 1075n + FRACTION_BITS)
  return value < 0 ? -whole : whole
}

/** `count` × 2^-1076 as an exact decimal numeral ('-0.5', '3', no trailing zeros). */
function decimalOf(count: bigint): string {
  const negative = count < 0n
  const digits = ((negative ? -count : count) * FIVE_POWER)
    .toString()
    .padStart(Number(FRACTION_BITS) + 1, '0')
  const point = digits.length - Number(FRACTION_BITS)
  const fraction = digits.slice(point).replace(/0+$/, '')
  const text = fraction === '' ? digits.slice(0, point) : `${digits.slice(0, point)}.${fraction}`
  return negative && text !== '0' ? `-${text}` : text
}

/** The double next to `value` upward (`up`) or downward; past the largest, ±Infinity. */
export function nextDouble(value: number, up: boolean): number {
  if (value === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, value)
  view.setBigInt64(0, view.getBigInt64(0) + (up === value > 0 ? 1n : -1n))
  return view.getFloat64(0)
}

/** Whether a tie rounds to `value`: its last bit is 0 (Infinity's, 2^1024, too). */
function isEven(value: number): boolean {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, value)
  return (view.getBigUint64(0) & 1n) === 0n
}

/**
 * `x op bound` for a double x, as `x op' double`: a bigint no double holds lies between two
 * doubles, so x < bound is x <= the lower one and x > bound is x >= the upper one.
 */
export function floatBound(op: Ordering, bound: number | bigint): [Ordering, number] {
  if (typeof bound === 'number') return [op, bound]
  const double = Number(bound)
  if (Number.isFinite(double) && BigInt(double) === bound) return [op, double]
  let lower: number
  let upper: number
  if (!Number.isFinite(double)) {
    ;[lower, upper] = double > 0 ? [Number.MAX_VALUE, double] : [double, -Number.MAX_VALUE]
  } else if (BigInt(double) > bound) {
    ;[lower, upper] = [nextDouble(double, false), double]
  } else {
    ;[lower, upper] = [double, nextDouble(double, true)]
  }
  return op === '<' || op === '<=' ? ['<=', lower] : ['>=', upper]
}

/** The exact value of a number or bigint (finite) as a decimal numeral. */
export function exactDecimal(value: number | bigint): string {
  return typeof value === 'bigint' ? String(value) : decimalOf(units(value))
}

/**
 * `Number(t) op double` for a numeral t, as `t op' decimal` exactly: Number(t) is below `double`
 * when t is below the point halfway to the double under it (at that point, JavaScript rounds to
 * the even one of the two), and so on. `true`/`false` when every numeral passes or none does.
 */
export function roundedBound(op: Ordering, double: number): Bound | boolean {
  const below = op === '<' || op === '>='
  if (below ? double === Number.NEGATIVE_INFINITY : double === Number.POSITIVE_INFINITY) {
    return op === '>=' || op === '<='
  }
  const neighbour = below
    ? double === Number.POSITIVE_INFINITY
      ? Number.MAX_VALUE
      : nextDouble(double, false)
    : double === Number.NEGATIVE_INFINITY
      ? -Number.MAX_VALUE
      : nextDouble(double, true)
  const halfway = decimalOf((units(double) + units(neighbour)) / 2n)
  // At the halfway point t rounds to `double` when it is the even one.
  const onDouble = isEven(double)
  const strict: Record<Ordering, Ordering> = { '<': '<', '<=': '<', '>': '>', '>=': '>' }
  const loose: Record<Ordering, Ordering> = { '<': '<=', '<=': '<=', '>': '>=', '>=': '>=' }
  const roundsIn = op === '<=' || op === '>=' ? onDouble : !onDouble
  return [roundsIn ? loose[op] : strict[op], halfway]
}

/** The column holds a numeral of each kind, in the engine's dialect. */
export interface NumeralTests {
  readonly integer: RawBuilder<SqlBool>
  readonly numeral: RawBuilder<SqlBool>
}

/** A numeral `text` against an exact decimal, exactly (`text` is known to be a numeral). */
function exactOrder(
  engine: DatabaseEngine,
  text: Column,
  op: Ordering,
  decimal: string,
): RawBuilder<SqlBool> {
  const operator = sql.raw(op)
  // PostgreSQL's numeric holds any numeral exactly; MariaDB's decimal 65 digits, SQLite's none.
  if (engine === 'postgres') {
    return sql<SqlBool>`cast(${text} as numeric) ${operator} cast(${decimal} as numeric)`
  }
  // Elsewhere the texts compare: sign, then the whole part's length and digits, then the
  // fraction's digits without trailing zeros (each a byte string of ASCII digits).
  const negative = decimal.startsWith('-')
  const [whole = '', fraction = ''] = (negative ? decimal.slice(1) : decimal).split('.')
  const mysql = engine === 'mysql'
  const magnitude = mysql ? sql`trim(leading '-' from ${text})` : sql`ltrim(${text}, '-')`
  const point = mysql ? sql`locate('.', ${magnitude})` : sql`instr(${magnitude}, '.')`
  const textWhole = mysql
    ? sql`substring_index(${magnitude}, '.', 1)`
    : sql`case when ${point} > 0 then substr(${magnitude}, 1, ${point} - 1) else ${magnitude} end`
  const textFraction = mysql
    ? sql`if(${point} > 0, trim(trailing '0' from substring_index(${magnitude}, '.', -1)), '')`
    : sql`case when ${point} > 0 then rtrim(substr(${magnitude}, ${point} + 1), '0') else '' end`
  const literal = (value: string) => (mysql ? sql`cast(${value} as binary)` : sql`${value}`)
  const compared = sql`case when length(${textWhole}) < ${whole.length} then -1 when length(${textWhole}) > ${whole.length} then 1 when ${textWhole} < ${literal(whole)} then -1 when ${textWhole} > ${literal(whole)} then 1 when ${textFraction} < ${literal(fraction)} then -1 when ${textFraction} > ${literal(fraction)} then 1 else 0 end`
  // '-0' and '-0.0' are zero, not below it.
  const below = sql`(${text} like '-%' and not (${textWhole} = '0' and ${textFraction} = ''))`
  const order = negative
    ? sql`case when ${below} then -(${compared}) else 1 end`
    : sql`case when ${below} then -1 else ${compared} end`
  return sql<SqlBool>`(${order}) ${operator} 0`
}

/**
 * `column op bound` for a column whose text may be a numeral (`tests` tell which kind), as the
 * point check orders it against a number or bigint; NULL (unknown) for any other text.
 */
export function numeralOrder(
  engine: DatabaseEngine,
  text: Column,
  tests: NumeralTests,
  op: Ordering,
  bound: number | bigint,
): RawBuilder<SqlBool> {
  const constant = (answer: boolean) => sql<SqlBool>`${sql.lit(answer)}`
  const integer =
    typeof bound === 'number' && !Number.isFinite(bound)
      ? constant(op === '<' || op === '<=' ? bound > 0 : bound < 0)
      : exactOrder(engine, text, op, exactDecimal(bound))
  const rounded = roundedBound(...floatBound(op, bound))
  const fraction =
    typeof rounded === 'boolean' ? constant(rounded) : exactOrder(engine, text, ...rounded)
  return sql<SqlBool>`case when ${tests.integer} then ${integer} when ${tests.numeral} then ${fraction} end`
}
