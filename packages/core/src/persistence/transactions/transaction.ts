import type { Transaction } from 'kysely'
import type { Database, TransactionOptions } from '../database/database.js'
import { DatabaseError } from '../database/database-error.js'
import {
  defaultDatabases,
  findFrame,
  removeDefaultDatabase,
  type TransactionFrame,
  transactionStorage,
} from './transaction-store.js'

/** Options of {@link transaction} and `@Transactional()`: a {@link TransactionOptions} and which database. */
export interface TransactionCallOptions<DB = unknown> extends TransactionOptions {
  /** The database to use; by default the one of the open transaction, else the running app's. */
  readonly database?: Database<DB>
}

/**
 * Makes `database` the one {@link transaction} and `@Transactional()` use when nothing else
 * says which; returns a function that undoes it (so does `database.destroy()`). `app.start()`
 * calls it for the app's database.
 *
 * @example
 * ```ts
 * import { Database, useDefaultDatabase } from '@mortar/core'
 *
 * const release = useDefaultDatabase(new Database('sqlite::memory:'))
 * // … later
 * release()
 * ```
 */
export function useDefaultDatabase<DB>(database: Database<DB>): () => void {
  defaultDatabases.push(database)
  return () => removeDefaultDatabase(database)
}

function pickDatabase<DB>(options: TransactionCallOptions<DB>): Database<DB> {
  if (options.database !== undefined) return options.database
  const frame = transactionStorage.getStore()
  if (frame !== undefined) return frame.owner as Database<DB>
  const fallback = defaultDatabases[defaultDatabases.length - 1]
  if (fallback === undefined) {
    throw new DatabaseError(
      'E_TRANSACTION',
      'No database for this transaction: start an app with a database, or pass { database }.',
    )
  }
  return fallback as Database<DB>
}

/**
 * Runs `fn` in a transaction of the app's database: commits when it resolves, rolls back when
 * it throws. Code inside that uses the database (the `Kysely` from `databaseToken()` or
 * `Database.kysely`) runs in the transaction, on every engine; on SQLite this is also what
 * keeps its single connection from waiting for itself. An open transaction is joined by
 * default; `{ propagation: 'savepoint' }` nests a savepoint, `{ propagation: 'new' }` opens an
 * independent one. A joined call that throws leaves the transaction rollback-only, even if
 * the caller catches the error: it then rejects with `E_TRANSACTION_ROLLBACK_ONLY` instead of
 * committing (use a savepoint for a part whose failure is recovered from).
 *
 * @example
 * ```ts
 * import { afterCommit, transaction } from '@mortar/core'
 *
 * const orderId = await transaction(async (trx) => {
 *   const order = await trx.insertInto('order').values(input).returning('id').executeTakeFirstOrThrow()
 *   afterCommit(() => mailer.sendConfirmation(order.id))
 *   return order.id
 * })
 * ```
 */
export function transaction<R, DB = unknown>(
  fn: (trx: Transaction<DB>) => Promise<R>,
  options: TransactionCallOptions<DB> = {},
): Promise<R> {
  return pickDatabase(options).transaction(fn, options)
}

/** Options of {@link afterCommit} and {@link beforeCommit}. */
export interface CommitCallbackOptions<DB = unknown> {
  /**
   * The database whose transaction the callback belongs to, for code that writes to a database
   * of its own (an app with two): its innermost open transaction, or, with none open, now. By
   * default, the innermost open transaction whatever its database, as `transaction()` joins.
   */
  readonly database?: Database<DB>
}

/** The frame a callback registers in: the database's innermost, else the innermost of any. */
function frameFor<DB>(options: CommitCallbackOptions<DB>): TransactionFrame | undefined {
  return options.database === undefined
    ? transactionStorage.getStore()
    : findFrame(options.database)
}

/**
 * Runs `callback` once the outermost transaction around the caller has committed (of
 * `options.database` when given); never after a rollback, and a savepoint that rolls back drops
 * the callbacks registered inside it. Outside a transaction it runs now. The returned promise
 * settles when the callback is registered (or, outside a transaction, when it has run). A
 * callback that fails after commit does not reject the transaction's call (the data is saved; a
 * caller that retried would write twice): the failure is logged and, in an app, published as
 * the `mortar.after_commit_failed` event.
 *
 * @example
 * ```ts
 * import { afterCommit } from '@mortar/core'
 *
 * afterCommit(() => search.reindex(productId))
 * ```
 */
export function afterCommit<DB = unknown>(
  callback: () => unknown,
  options: CommitCallbackOptions<DB> = {},
): Promise<void> {
  const frame = frameFor(options)
  if (frame === undefined) return Promise.resolve().then(callback).then(noop)
  frame.callbacks.push(callback)
  return Promise.resolve()
}

/**
 * Runs `callback` inside the outermost transaction around the caller (of `options.database`
 * when given), just before it commits: after the transaction's function resolved, its queries
 * still in the transaction, one callback at a time in the order registered (one registered
 * meanwhile runs after those). For work that must come last, such as taking row locks in one
 * order whatever order the calls came in. A callback that throws rolls the transaction back and
 * its call rejects with that error; the callbacks after it and `afterCommit`'s never run. A
 * savepoint that rolls back drops the callbacks registered inside it. Outside a transaction it
 * runs now (its statements have committed already). The returned promise settles when the
 * callback is registered (or, outside a transaction, when it has run).
 *
 * @example
 * ```ts
 * import { beforeCommit } from '@mortar/core'
 *
 * beforeCommit(() => totals.flush(), { database: reports }) // reports: the totals' Database
 * ```
 */
export function beforeCommit<DB = unknown>(
  callback: () => unknown,
  options: CommitCallbackOptions<DB> = {},
): Promise<void> {
  const frame = frameFor(options)
  if (frame === undefined) return Promise.resolve().then(callback).then(noop)
  frame.beforeCommit.push(callback)
  return Promise.resolve()
}

function noop(): void {}
