// How a point check compares a row value with a rule's value. Drivers hand back each column type
// as one JS kind (PostgreSQL's bigint and numeric, MariaDB's BIGINT and DECIMAL as strings,
// booleans as 0/1 on MariaDB and SQLite), and the SQL side (sql-comparison.ts) computes the same
// answers from the column's value on each engine; the agreement tests hold the two together.
import type { Truth } from './compile-condition.js'
import type { CompareOperator } from './condition.js'
import { isComparable } from './principal-ref.js'

/** A decimal numeral as engines print numbers: no sign but '-', no leading zero, no exponent. */
export const NUMERAL = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/
const INTEGER_NUMERAL = /^-?(?:0|[1-9]\d*)$/

/** The text of a number, as the engines print an integer or a double. */
export function numberText(value: number | bigint): string {
  return String(value)
}

/**
 * Whether `text` is the text of the number it spells ('123', '1.5', '1e+21'), so that an engine
 * converting it to a number and back gets `text` again.
 */
export function isNumberText(text: string): boolean {
  if (INTEGER_NUMERAL.test(text)) return text !== '-0'
  const value = Number(text)
  return Number.isFinite(value) && String(value) === text
}

// Strings order by code point, as SQL's binary comparisons do (SQLite's BINARY, PostgreSQL's
// "C", MariaDB's binary casts); JS's `<` orders UTF-16 units, which puts characters past U+FFFF
// before U+E000–U+FFFF.
export function compareStrings(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let index = 0; index < length; index++) {
    let x = a.charCodeAt(index)
    let y = b.charCodeAt(index)
    if (x === y) continue
    if (x >= 0xd800 && y >= 0xd800) {
      // Moves surrogates (U+D800–U+DFFF) above U+E000–U+FFFF.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000
    }
    return x < y ? -1 : 1
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1
}

// `<` and `>` compare a bigint with a number exactly, as the database compares its integers.
function compareNumbers(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0
}

type Kind = 'string' | 'number' | 'boolean' | 'date'

function kindOf(value: unknown): Kind | undefined {
  switch (typeof value) {
    case 'string':
      return 'string'
    case 'number':
      return Number.isNaN(value) ? undefined : 'number'
    case 'bigint':
      return 'number'
    case 'boolean':
      return 'boolean'
    default:
      return isComparable(value) ? 'date' : undefined
  }
}

/**
 * Whether two non-null values are equal. A boolean counts as 0 or 1 against another kind (as
 * MariaDB's and SQLite's booleans read back), a string equals a number only when it is the
 * number's text ('123' = 123, as a bigint reads back; never '0123', ' 123', '1abc'), and other
 * kinds are unequal. A value that is not comparable (an object, an array, NaN) makes it unknown.
 */
export function equalValues(left: unknown, right: unknown): Truth {
  // The common cases, two values of one primitive type, without classifying them.
  if (typeof left === typeof right) {
    switch (typeof left) {
      case 'string':
      case 'boolean':
      case 'bigint':
        return left === right
      case 'number':
        return Number.isNaN(left) || Number.isNaN(right) ? null : left === right
    }
  }
  let a = kindOf(left)
  let b = kindOf(right)
  if (a === undefined || b === undefined) return null
  if (a !== b) {
    if (a === 'boolean') {
      left = left ? 1 : 0
      a = 'number'
    }
    if (b === 'boolean') {
      right = right ? 1 : 0
      b = 'number'
    }
  }
  if (a === b) {
    if (a === 'number') return compareNumbers(left as number, right as number) === 0
    if (a === 'date') return (left as Date).getTime() === (right as Date).getTime()
    return left === right
  }
  if (a === 'string' && b === 'number') return left === numberText(right as number)
  if (a === 'number' && b === 'string') return right === numberText(left as number)
  return false
}

/**
 * The number a value orders as: a number, a boolean (0/1) or a numeral (an integer one exactly, as
 * a bigint; one with a fraction as the double Number() reads); else `undefined`.
 */
export function orderNumber(value: unknown): number | bigint | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isNaN(value) ? undefined : value
    case 'bigint':
      return value
    case 'boolean':
      return value ? 1 : 0
    case 'string':
      if (!NUMERAL.test(value)) return undefined
      return INTEGER_NUMERAL.test(value) ? BigInt(value) : Number(value)
    default:
      return undefined
  }
}

/** Whether a value is Infinity or -Infinity. */
export function isInfinite(value: unknown): value is number {
  return value === Number.POSITIVE_INFINITY || value === Number.NEGATIVE_INFINITY
}

/**
 * The order of two non-null values, or `undefined` when they do not order against each other:
 * numbers, booleans and numerals order as numbers (exactly past 2^53), other strings by code
 * point, dates by time, ±Infinity against a date as an infinite time; a numeral against another
 * string, a number against a non-numeral, a date against anything else, or a value that is not
 * comparable gives `undefined` (unknown).
 */
export function orderValues(left: unknown, right: unknown): number | undefined {
  if (typeof left === 'number' && typeof right === 'number') {
    return Number.isNaN(left) || Number.isNaN(right) ? undefined : compareNumbers(left, right)
  }
  const x = orderNumber(left)
  const y = orderNumber(right)
  if (x !== undefined && y !== undefined) return compareNumbers(x, y)
  if (x !== undefined || y !== undefined) {
    // PostgreSQL's 'infinity' and '-infinity' dates and timestamps read back as ±Infinity, and
    // the engine orders them after and before every other time. A numeral Number() rounds to
    // Infinity is text, which orders against no Date.
    if (isInfinite(left) && kindOf(right) === 'date')
      return compareNumbers(left, (right as Date).getTime())
    if (isInfinite(right) && kindOf(left) === 'date')
      return compareNumbers((left as Date).getTime(), right)
    return undefined
  }
  if (typeof left === 'string' && typeof right === 'string') return compareStrings(left, right)
  if (kindOf(left) === 'date' && kindOf(right) === 'date') {
    return compareNumbers((left as Date).getTime(), (right as Date).getTime())
  }
  return undefined
}

const ORDER_TESTS: Record<Exclude<CompareOperator, '=' | '<>'>, (order: number) => boolean> = {
  '<': (order) => order < 0,
  '<=': (order) => order <= 0,
  '>': (order) => order > 0,
  '>=': (order) => order >= 0,
}

/** The test of an ordering operator on the order of two values. */
export function orderTest(op: Exclude<CompareOperator, '=' | '<>'>): (order: number) => boolean {
  return ORDER_TESTS[op]
}

/** `left op right` for two non-null values, as the point check answers it. */
export function compareTruth(left: unknown, op: CompareOperator, right: unknown): Truth {
  if (op === '=' || op === '<>') {
    const equal = equalValues(left, right)
    return equal === null ? null : equal !== (op === '<>')
  }
  const order = orderValues(left, right)
  return order === undefined ? null : ORDER_TESTS[op](order)
}
