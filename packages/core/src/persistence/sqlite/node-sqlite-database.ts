import type { DatabaseSync, StatementSync } from 'node:sqlite'
import type { SqliteDatabase, SqliteStatement } from 'kysely'

/** What SQLite can bind; node:sqlite rejects booleans, dates and `undefined`, the other engines take them. */
type Bindable = null | number | bigint | string | NodeJS.ArrayBufferView

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

class NodeSqliteStatement implements SqliteStatement {
  readonly #db: DatabaseSync
  readonly #sql: string
  readonly #statement: StatementSync
  readonly reader: boolean

  constructor(db: DatabaseSync, sql: string) {
    this.#db = db
    this.#sql = sql
    this.#statement = db.prepare(sql)
    this.reader = this.#statement.columns().length > 0
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#statement.all(...bind(parameters))
  }

  run(parameters: ReadonlyArray<unknown>): {
    changes: number | bigint
    lastInsertRowid: number | bigint
  } {
    return this.#statement.run(...bind(parameters))
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    // A fresh statement: the cached one may be run again while this iterator is still open.
    return this.#db.prepare(this.#sql).iterate(...bind(parameters))
  }
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
    case 'bigint':
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
