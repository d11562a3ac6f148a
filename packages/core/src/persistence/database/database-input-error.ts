import { MortarError, type MortarErrorOptions } from '../../errors/mortar-error.js'

/**
 * Why the database refused a value, as {@link DatabaseInputError} reports it:
 * - `invalid_text`: a character the engine cannot store (a NUL byte, an invalid encoding);
 * - `invalid_format`: text where the column wants another type (`'abc'`, `'1.5'` for an integer);
 * - `out_of_range`: a number past the column's range (`2147483648` for an `integer`);
 * - `too_long`: text longer than its column allows;
 * - `too_large`: a value past an engine limit (an index entry, a row);
 * - `invalid_datetime`: a date or time that does not parse or does not exist;
 * - `division_by_zero`: a value made a computation divide by zero;
 * - `invalid_value`: any other value the engine refused as data.
 */
export type DatabaseInputReason =
  | 'invalid_text'
  | 'invalid_format'
  | 'out_of_range'
  | 'too_long'
  | 'too_large'
  | 'invalid_datetime'
  | 'division_by_zero'
  | 'invalid_value'

const MESSAGES: Readonly<Record<DatabaseInputReason, string>> = {
  invalid_text: 'A text value holds a character that cannot be stored (such as a NUL byte).',
  invalid_format:
    'A value does not have the type its field needs (text where a number is expected).',
  out_of_range: 'A number is out of the range its field accepts.',
  too_long: 'A text value is longer than its field accepts.',
  too_large: 'A value is too large to be stored.',
  invalid_datetime: 'A date or time value is invalid or out of range.',
  division_by_zero: 'A value led to a division by zero.',
  invalid_value: 'A value cannot be stored or compared by the database.',
}

/**
 * 422: the database refused a value of the request as data (PostgreSQL's SQLSTATE class 22
 * "data exception" and its MariaDB and SQLite equivalents), so the request, not the server, is
 * at fault. `Database` raises it in place of the driver's error on every query, in routes,
 * services and transactions alike. The message and `reason` never quote the value, which may be
 * secret; `cause` keeps the engine's code (SQLSTATE, errno), not its message, which does.
 *
 * Validate input before the query (see `safeText` and `integerId`): this error is the net
 * under that check, and cannot name the field at fault.
 *
 * @example
 * ```ts
 * import { DatabaseInputError } from '@mortar/core'
 *
 * try {
 *   await db.selectFrom('product').selectAll().where('id', '=', id).execute()
 * } catch (error) {
 *   if (error instanceof DatabaseInputError && error.reason === 'out_of_range') return undefined
 *   throw error
 * }
 * ```
 */
export class DatabaseInputError extends MortarError {
  declare readonly code: 'E_DATABASE_INPUT'
  readonly reason: DatabaseInputReason

  constructor(reason: DatabaseInputReason, options: Omit<MortarErrorOptions, 'details'> = {}) {
    super('E_DATABASE_INPUT', 422, MESSAGES[reason], { ...options, details: { reason } })
    this.reason = reason
  }
}

// PostgreSQL SQLSTATE → reason; the rest of class 22 is `invalid_value`.
const POSTGRES_REASONS: Readonly<Record<string, DatabaseInputReason>> = {
  '22001': 'too_long',
  '22003': 'out_of_range',
  '22P02': 'invalid_format',
  '22021': 'invalid_text',
  '22P05': 'invalid_text',
  '22007': 'invalid_datetime',
  '22008': 'invalid_datetime',
  '22009': 'invalid_datetime',
  '22012': 'division_by_zero',
  // program_limit_exceeded: an index entry or row past its size limit, from a huge value.
  '54000': 'too_large',
}

// MySQL/MariaDB errno → reason, for data errors whose SQLSTATE is the generic HY000.
const MYSQL_REASONS: Readonly<Record<number, DatabaseInputReason>> = {
  1264: 'out_of_range', // ER_WARN_DATA_OUT_OF_RANGE
  1690: 'out_of_range', // ER_DATA_OUT_OF_RANGE
  1406: 'too_long', // ER_DATA_TOO_LONG
  1366: 'invalid_format', // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: "Incorrect integer/string value"
  1292: 'invalid_format', // ER_TRUNCATED_WRONG_VALUE
  1367: 'invalid_value', // ER_ILLEGAL_VALUE_FOR_TYPE
  1411: 'invalid_value', // ER_WRONG_VALUE_FOR_TYPE
  1365: 'division_by_zero', // ER_DIVISION_BY_ZERO
  1441: 'invalid_datetime', // ER_DATETIME_FUNCTION_OVERFLOW
  3140: 'invalid_value', // ER_INVALID_JSON_TEXT
  1118: 'too_large', // ER_TOO_BIG_ROWSIZE
}

// node:sqlite result codes (low byte): SQLITE_TOOBIG, SQLITE_MISMATCH.
const SQLITE_REASONS: Readonly<Record<number, DatabaseInputReason>> = {
  18: 'too_large',
  20: 'invalid_value',
}

interface DriverErrorFields {
  readonly code?: unknown
  readonly severity?: unknown
  readonly sqlState?: unknown
  readonly errno?: unknown
  readonly errcode?: unknown
}

/**
 * The {@link DatabaseInputError} for a driver error that reports bad data, or `undefined` for
 * any other error (a lost connection, a syntax error, a constraint), which stays as it is.
 */
export function toDatabaseInputError(error: unknown): DatabaseInputError | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const fields = error as DriverErrorFields
  // pg: a five-character SQLSTATE in `code`, with a `severity`.
  if (typeof fields.code === 'string' && typeof fields.severity === 'string') {
    const reason =
      POSTGRES_REASONS[fields.code] ?? (fields.code.startsWith('22') ? 'invalid_value' : undefined)
    return reason && wrap(reason, 'PostgreSQL', `SQLSTATE ${fields.code}`, { code: fields.code })
  }
  // mysql2: `sqlState` and a numeric `errno`.
  if (typeof fields.sqlState === 'string' && typeof fields.errno === 'number') {
    const reason =
      MYSQL_REASONS[fields.errno] ??
      (fields.sqlState.startsWith('22') ? 'invalid_value' : undefined)
    return (
      reason &&
      wrap(reason, 'MySQL', `errno ${fields.errno}, SQLSTATE ${fields.sqlState}`, {
        code: fields.code,
        errno: fields.errno,
        sqlState: fields.sqlState,
      })
    )
  }
  // node:sqlite: ERR_SQLITE_ERROR with the SQLite result code in `errcode`.
  if (fields.code === 'ERR_SQLITE_ERROR' && typeof fields.errcode === 'number') {
    const reason = SQLITE_REASONS[fields.errcode & 0xff]
    return (
      reason && wrap(reason, 'SQLite', `result code ${fields.errcode}`, { errcode: fields.errcode })
    )
  }
  return undefined
}

function wrap(
  reason: DatabaseInputReason,
  engine: string,
  what: string,
  fields: Readonly<Record<string, unknown>>,
): DatabaseInputError {
  // The driver's message quotes the value (`invalid input syntax for type integer: "…"`): only
  // its codes are kept.
  const cause = Object.assign(new Error(`${engine} refused a value as data (${what}).`), fields)
  return new DatabaseInputError(reason, { cause })
}
