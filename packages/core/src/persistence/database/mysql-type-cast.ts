// How core's MariaDB pools read the values mysql2 would otherwise read lossily. Policies of
// @mortar/auth compile each rule to SQL for the values read here (its point check compares
// them), so a value read as another than the one stored let a row through one and not the other.

/** What `mysqlTypeCast` reads of the field mysql2 gives `typeCast`. */
export interface MysqlCastField {
  readonly type: string
  string(): string | null
}

// 'YYYY-MM-DD' or 'YYYY-MM-DD hh:mm:ss[.ffffff]', as the server sends DATE, DATETIME, TIMESTAMP.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?)?$/

/**
 * A DATE, DATETIME or TIMESTAMP's text as the instant it names in UTC (core's sessions run at
 * '+00:00'), to the millisecond, its fraction cut as mysql2 cuts it. A date no calendar holds
 * (`0000-00-00`, a zero month or day, `2024-02-31`), which MariaDB stores unless sql_mode has
 * NO_ZERO_DATE, NO_ZERO_IN_DATE and no ALLOW_INVALID_DATES, is an invalid Date: mysql2 read a
 * DATE '0000-00-00' as 1899-11-30, '2024-00-10' as 2023-12-10 and '2024-02-31' as 2024-03-02,
 * and every year below 100 as 1900 more ('0050-06-01' as 1950-06-01), each a real date SQL
 * never compares the column with.
 */
export function readMysqlDate(text: string): Date {
  const parts = DATE_TIME.exec(text)
  if (parts === null) return new Date(Number.NaN)
  const [year, month, day, hours, minutes, seconds] = parts
    .slice(1, 7)
    .map((part) => Number(part ?? 0)) as [number, number, number, number, number, number]
  const date = new Date(0)
  // setUTCFullYear, unlike Date.UTC, takes years below 100 as they are.
  date.setUTCFullYear(year, month - 1, day)
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return new Date(Number.NaN)
  const millis = Number((parts[7] ?? '').slice(0, 3).padEnd(3, '0'))
  date.setUTCHours(hours, minutes, seconds, millis)
  return date
}

const DATE_TYPES: ReadonlySet<string> = new Set(['DATE', 'NEWDATE', 'DATETIME', 'TIMESTAMP'])

/** mysql2's `typeCast` hook. */
export type MysqlTypeCast = (field: MysqlCastField, next: () => unknown) => unknown

/**
 * mysql2's `typeCast` for core's pools: a DOUBLE read whole (mysql2 adds up its digits in a
 * double, which rounds twice past 2^53: 999999999999999.9 read back as 1000000000000000, about
 * one random double in twenty as another; about 13% more CPU decoding a row with one double),
 * and, unless the URL asks for `dateStrings`, dates as {@link readMysqlDate} reads them.
 */
export function mysqlTypeCast(options: { readonly dateStrings: boolean }): MysqlTypeCast {
  const dates = options.dateStrings ? new Set<string>() : DATE_TYPES
  return (field, next) => {
    if (field.type === 'DOUBLE') {
      const text = field.string()
      return text === null ? null : Number(text)
    }
    if (dates.has(field.type)) {
      const text = field.string()
      return text === null ? null : readMysqlDate(text)
    }
    return next()
  }
}
