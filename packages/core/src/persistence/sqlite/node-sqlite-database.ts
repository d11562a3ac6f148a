import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { SqliteDatabase, SqliteStatement } from 'kysely'
import { DatabaseInputError } from '../database/database-input-error.js'

/** What SQLite can bind; node:sqlite rejects booleans, dates and `undefined`, the other engines take them. */
type Bindable = null | number | bigint | string | NodeJS.ArrayBufferView

/**
 * The name of a SQL function every {@link NodeSqliteDatabase} registers: a value's text as
 * JavaScript's `String()` writes the value node:sqlite reads, so SQL can compare values of
 * different kinds as a JavaScript check compares what the driver hands back. SQLite's own cast
 * writes a REAL otherwise (`1.0e+21`, `0.333333333333333`, `1.0e-07`, `1.0` where JavaScript
 * writes `1e+21`, `0.3333333333333333`, `1e-7`, `1`). An INTEGER is its digits, a TEXT itself; a
 * BLOB, which reads back as bytes, and NULL give NULL.
 *
 * @example
 * ```ts
 * import { SQLITE_JS_TEXT } from '@mortar/core'
 * import { sql } from 'kysely'
 *
 * const linked = sql`${sql.raw(SQLITE_JS_TEXT)}(a.price) = b.label`
 * ```
 */
export const SQLITE_JS_TEXT = 'mortar_js_text'

function jsText(value: unknown): string | null {
  // BigInt arguments keep an INTEGER past 2^53 exact; a BLOB arrives as a Uint8Array.
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint'
    ? String(value)
    : null
}

// Prepared statements are reused by SQL text: Kysely prepares on every query, and
// preparing costs more than running a small statement.
const STATEMENT_CACHE_SIZE = 256

/**
 * Kysely's `SqliteDialect` wants a better-sqlite3-shaped database; this wraps Node's built-in
 * `DatabaseSync` to that shape (spread parameters, `reader` from the statement's columns), so no
 * native addon is needed. Most apps never see it: `sqlite:` URLs use it through
 * {@link NodeSqliteDialect}.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from 'node:sqlite'
 * import { NodeSqliteDatabase } from '@mortar/core'
 * import { Kysely, SqliteDialect } from 'kysely'
 *
 * const db = new Kysely<MyDb>({
 *   dialect: new SqliteDialect({ database: new NodeSqliteDatabase(new DatabaseSync(':memory:')) }),
 * })
 * ```
 */
export class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync
  readonly #statements = new Map<string, NodeSqliteStatement>()

  constructor(db: DatabaseSync) {
    this.#db = db
    db.function(SQLITE_JS_TEXT, { deterministic: true, useBigIntArguments: true }, jsText)
  }

  /** The wrapped `DatabaseSync`, for what Kysely cannot express (pragmas, backups). */
  get raw(): DatabaseSync {
    return this.#db
  }

  prepare(sql: string): SqliteStatement {
    let statement = this.#statements.get(sql)
    if (statement === undefined) {
      statement = new NodeSqliteStatement(this.#db, sql)
      if (this.#statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.#statements.keys().next().value
        if (oldest !== undefined) this.#statements.delete(oldest)
      }
      this.#statements.set(sql, statement)
    }
    return statement
  }

  close(): void {
    this.#statements.clear()
    if (this.#db.isOpen) this.#db.close()
  }
}

/**
 * Integers past 2^53 come back as strings, as PostgreSQL's `int8` and MariaDB's BIGINT (with
 * `bigNumberStrings`) do; smaller ones stay numbers. node:sqlite alone either throws a
 * RangeError on such a value or, with `readBigInts`, makes every integer a bigint.
 */
class NodeSqliteStatement implements SqliteStatement {
  readonly #db: DatabaseSync
  readonly #sql: string
  readonly #statement: StatementSync
  // A SELECT reads plain numbers until a big integer shows up, then bigints for good: a
  // SELECT can be run again after the RangeError. A writer cannot, since its write is done
  // before a returned row is read, so it always reads bigints (which also keeps a large
  // `lastInsertRowid` exact instead of rounded).
  #bigInts: boolean
  readonly reader: boolean

  constructor(db: DatabaseSync, sql: string) {
    this.#db = db
    this.#sql = sql
    this.#statement = db.prepare(sql)
    this.reader = this.#statement.columns().length > 0
    this.#bigInts = !SELECT.test(sql)
    if (this.#bigInts) this.#statement.setReadBigInts(true)
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    const bound = bind(parameters)
    if (!this.#bigInts) {
      try {
        const rows = this.#statement.all(...bound) as Record<string, unknown>[]
        if (!rows.some(holdsInt64Min)) return rows
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ERR_OUT_OF_RANGE') throw error
      }
      this.#bigInts = true
      this.#statement.setReadBigInts(true)
    }
    const rows = this.#statement.all(...bound) as Record<string, unknown>[]
    for (const row of rows) normalizeIntegers(row)
    return rows
  }

  run(parameters: ReadonlyArray<unknown>): {
    changes: number | bigint
    lastInsertRowid: number | bigint
  } {
    return this.#statement.run(...bind(parameters))
  }

  *iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    // A fresh statement: the cached one may be run again while this iterator is still open.
    // Rows already handed out cannot be read again, so a stream reads bigints from the start.
    const statement = this.#db.prepare(this.#sql)
    statement.setReadBigInts(true)
    for (const row of statement.iterate(...bind(parameters))) {
      yield normalizeIntegers(row as Record<string, unknown>)
    }
  }
}

// Kysely's SQLite compiler starts every select with `select` (or `with` for CTEs, which may
// also write, so those take the writer's path).
const SELECT = /^\s*select\b/i
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER)
const MIN_INT64 = -(2n ** 63n)
const MAX_INT64 = 2n ** 63n - 1n
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

// node:sqlite reads the INTEGER -2^63 as a number, rounded, where it refuses every other integer
// past 2^53; a REAL of that value reads the same, so both are read again as bigints to tell.
const INT64_MIN_AS_NUMBER = -(2 ** 63)

function holdsInt64Min(row: Record<string, unknown>): boolean {
  for (const key in row) if (row[key] === INT64_MIN_AS_NUMBER) return true
  return false
}

function normalizeIntegers(row: Record<string, unknown>): Record<string, unknown> {
  for (const key in row) {
    const value = row[key]
    if (typeof value === 'bigint') {
      row[key] = value >= MIN_SAFE && value <= MAX_SAFE ? Number(value) : value.toString()
    }
  }
  return row
}

function bind(parameters: ReadonlyArray<unknown>): Bindable[] {
  const bound = new Array<Bindable>(parameters.length)
  for (let i = 0; i < parameters.length; i++) bound[i] = toBindable(parameters[i])
  return bound
}

function toBindable(value: unknown): Bindable {
  switch (typeof value) {
    case 'string':
    case 'number':
      return value
    case 'bigint':
      // SQLite integers are 64-bit; node:sqlite would throw a bare TypeError.
      if (value < MIN_INT64 || value > MAX_INT64) throw new DatabaseInputError('out_of_range')
      return value
    case 'boolean':
      return value ? 1 : 0
    case 'undefined':
      return null
  }
  if (value === null) return null
  if (ArrayBuffer.isView(value)) return value as NodeJS.ArrayBufferView
  if (value instanceof Date) return value.toISOString()
  throw new TypeError(
    `SQLite cannot store a value of type ${value?.constructor?.name ?? typeof value}; serialise it (JSON.stringify) first.`,
  )
}
