// The SQL of a rule is written for the values the driver reads back (column-types.ts), since
// the point check compares those: a DECIMAL's text, a BIGINT's digits, a Date. A driver set to
// read otherwise (mysql2's decimalNumbers or dateStrings, BIGINT as rounded numbers, a pg type
// parser of the app's) hands the point check other values than the SQL compares, and the two
// disagree both ways: a deny by `eq` held in `can` and let the row through `where`. So the
// database is asked once, when an AccessControl is made, to read back one value of each such
// type, and refused when one comes back otherwise.
import { type Kysely, sql } from 'kysely'
import { PolicyDatabaseError } from '../errors.js'

/** One read-back value: whether it came back as the SQL expects, and what to change if not. */
type Expectation = readonly [column: string, holds: (value: unknown) => boolean, fix: string]

const isDate = (value: unknown): value is Date =>
  value instanceof Date && !Number.isNaN(value.getTime())
const localDate = (hours: number) => (value: unknown) =>
  isDate(value) &&
  value.getFullYear() === 2026 &&
  value.getMonth() === 0 &&
  value.getDate() === 1 &&
  value.getHours() === hours &&
  value.getMinutes() === 0
const TEXT = 'é😀'

const MYSQL: readonly Expectation[] = [
  ['num', (value) => value === '1.50', "reads DECIMAL as a JS number (mysql2's decimalNumbers)"],
  [
    'big',
    (value) => value === '9007199254740993',
    "reads BIGINT as a number, rounded past 2^53 (set mysql2's supportBigNumbers and bigNumberStrings)",
  ],
  ['day', isDate, "reads DATE as a string (mysql2's dateStrings)"],
  ['at', isDate, "reads DATETIME as a string (mysql2's dateStrings)"],
  [
    'early',
    (value) => isDate(value) && value.getUTCFullYear() === 50,
    "reads a date of a year below 100 as 1900 years later, and '0000-00-00' or '2024-02-31' as another date (mysql2's own date reading; a typeCast that reads dates from field.string() as the databases of @mortar/core do)",
  ],
  [
    'dbl',
    (value) => value === 999999999999999.9,
    'reads DOUBLE digit by digit, which rounds some (a typeCast that reads DOUBLE as Number(field.string()), as the databases of @mortar/core do)',
  ],
  ['txt', (value) => value === TEXT, 'reads text in a character set other than utf8mb4'],
  ['sent', (value) => Number(value) === 1, 'sends text in a character set other than utf8mb4'],
]

const POSTGRES: readonly Expectation[] = [
  ['big', (value) => value === '9007199254740993', 'reads int8 as a number (a pg type parser)'],
  ['num', (value) => value === '1.50', 'reads numeric as a number (a pg type parser)'],
  ['int', (value) => value === 2, 'reads int4 otherwise than as a number (a pg type parser)'],
  [
    'dbl',
    (value) => value === 0.30000000000000004,
    'reads float8 rounded (a pg type parser, or extra_float_digits below 1)',
  ],
  ['flag', (value) => value === true, 'reads boolean otherwise (a pg type parser)'],
  ['day', localDate(0), 'reads date otherwise than as a local Date (a pg type parser)'],
  ['ts', localDate(10), 'reads timestamp otherwise than as a local Date (a pg type parser)'],
  [
    'tstz',
    (value) => isDate(value) && value.getTime() === Date.UTC(2026, 0, 1, 10),
    'reads timestamptz otherwise than as a Date (a pg type parser)',
  ],
  ['doc', (value) => value === 1, 'reads jsonb unparsed (a pg type parser)'],
  ['padded', (value) => value === 'ab  ', 'reads char(n) otherwise (a pg type parser)'],
]

/**
 * Refuses a MariaDB or PostgreSQL database whose driver reads values otherwise than node-postgres
 * and mysql2 do as @mortar/core configures them, with {@link PolicyDatabaseError} naming each.
 */
export async function checkDriverReads(
  db: Kysely<unknown>,
  engine: 'mysql' | 'postgres',
): Promise<void> {
  const query =
    engine === 'mysql'
      ? sql<Record<string, unknown>>`select cast('1.50' as decimal(4, 2)) as num,
          cast(9007199254740993 as signed) as big, cast('2026-01-01' as date) as day,
          cast('2026-01-01 10:00:00' as datetime) as at, cast('0050-06-01' as date) as early, cast(999999999999999.9 as double) as dbl,
          convert(x'c3a9f09f9880' using utf8mb4) as txt,
          cast(${TEXT} as binary) = x'c3a9f09f9880' as sent`
      : sql<Record<string, unknown>>`select cast('9007199254740993' as int8) as big,
          cast('1.50' as numeric(4, 2)) as num, cast(2 as int4) as int,
          cast('0.30000000000000004' as float8) as dbl, true as flag,
          cast('2026-01-01' as date) as day, cast('2026-01-01 10:00' as timestamp) as ts,
          cast('2026-01-01 10:00+00' as timestamptz) as tstz, cast('1' as jsonb) as doc,
          cast('ab' as char(4)) as padded`
  const { rows } = await query.execute(db)
  const row = rows[0] ?? {}
  const faults = (engine === 'mysql' ? MYSQL : POSTGRES)
    .filter(([column, holds]) => !holds(row[column]))
    .map(([, , fix]) => fix)
  if (faults.length > 0) {
    throw new PolicyDatabaseError(
      `The database driver ${faults.join('; ')}. Rules compile to SQL for the values the driver reads back by default (a DECIMAL's text, a BIGINT's digits, a Date), which the point check compares; read as these are, the SQL would let through rows the point check refuses. Open the database through @mortar/core (a database URL) or configure the driver so.`,
    )
  }
}
