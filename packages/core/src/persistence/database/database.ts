import type { AccessMode, Dialect, IsolationLevel, KyselyPlugin, Transaction } from 'kysely'
import { Kysely, sql } from 'kysely'
import { thrownText } from '../../errors/thrown-text.js'
import { createLogger } from '../../logger/create-logger.js'
import type { Logger } from '../../logger/logger.js'
import type { AfterCommitFailure } from '../transactions/after-commit-failure.js'
import {
  findFrame,
  removeDefaultDatabase,
  type TransactionFrame,
  transactionStorage,
} from '../transactions/transaction-store.js'
import { createDialect } from './create-dialect.js'
import { DatabaseError, scrubError } from './database-error.js'
import { withInputErrors } from './input-error-dialect.js'
import { withPipelinedWrites } from './pipelined-write.js'
import { refuseSchemaPlugin } from './schema-plugin.js'
import {
  type DatabaseEngine,
  type DatabaseOptions,
  type ParsedDatabaseUrl,
  parseDatabaseUrl,
} from './database-url.js'

/**
 * How a transaction relates to one already open on the same database:
 * - `'join'` (default): run inside it; its commit or rollback decides.
 * - `'savepoint'`: run in a savepoint of it; a throw rolls back only this part.
 * - `'new'`: open a second, independent transaction on another connection (not on SQLite,
 *   whose single connection is taken by the outer one).
 */
export type TransactionPropagation = 'join' | 'savepoint' | 'new'

/** Options of {@link Database.transaction}, `transaction()` and `@Transactional()`. */
export interface TransactionOptions {
  readonly propagation?: TransactionPropagation
  /** Isolation level of a new transaction (ignored when joining). */
  readonly isolationLevel?: IsolationLevel
  readonly accessMode?: AccessMode
}

/** The result of {@link Database.health}. */
export interface DatabaseHealth {
  readonly status: 'ok' | 'error'
  readonly latencyMs: number
  /** Why the ping failed; never contains the password. */
  readonly error?: string
}

/** Options of {@link Database} beyond the URL. */
export interface DatabaseInit extends DatabaseOptions {
  /**
   * Receives pool background errors and failed `afterCommit` callbacks; a default logger
   * (`createLogger()`) when omitted.
   */
  readonly logger?: Logger
  /**
   * Called for each `afterCommit` callback that failed, after it was logged; the transaction
   * has committed and its call resolves anyway. `createApp` publishes these as the
   * `mortar.after_commit_failed` event.
   */
  readonly onAfterCommitError?: (failure: AfterCommitFailure) => void | Promise<void>
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'PROTOCOL_CONNECTION_LOST',
])

/**
 * The app's database: one Kysely instance on SQLite, PostgreSQL or MySQL/MariaDB picked by URL,
 * and the transactions opened on it. {@link Database.kysely} is transaction-aware: inside
 * {@link Database.transaction} (or `transaction()`, `@Transactional()`) it runs queries in the
 * open transaction, elsewhere on the pool, so services never pass a `trx` around.
 *
 * @example
 * ```ts
 * import { Database } from '@mortar/core'
 *
 * const database = new Database<ShopDb>('sqlite:./var/shop.db')
 * await database.connect()
 * await database.transaction(async () => {
 *   await database.kysely.insertInto('product').values({ name: 'Tea' }).execute()
 * })
 * await database.destroy()
 * ```
 */
export class Database<DB = unknown> {
  readonly #config: ParsedDatabaseUrl | undefined
  readonly #configError: DatabaseError | undefined
  readonly #logger: Logger | undefined
  readonly #onAfterCommitError: DatabaseInit['onAfterCommitError']
  #root: Kysely<DB> | undefined
  #background: Kysely<DB> | undefined
  readonly #plugins: KyselyPlugin[] = []
  #destroyed = false
  /** The transaction-aware Kysely: see the class description. */
  readonly kysely: Kysely<DB>

  constructor(options: string | DatabaseInit) {
    // A bad URL is reported by connect() (so app.start() fails with it), not by construction.
    try {
      this.#config = parseDatabaseUrl(options)
    } catch (error) {
      if (!(error instanceof DatabaseError)) throw error
      this.#configError = error
    }
    this.#logger = typeof options === 'string' ? undefined : options.logger
    this.#onAfterCommitError = typeof options === 'string' ? undefined : options.onAfterCommitError
    this.kysely = createTransactionAwareKysely(this)
  }

  /** The engine the URL picked; `undefined` when the URL is invalid. */
  get engine(): DatabaseEngine | undefined {
    return this.#config?.engine
  }

  /**
   * Where this database reports what fails in the background (the pool, `afterCommit`
   * callbacks): the logger it was given, else a default one. Components that work on it in the
   * background report there too when given no logger of their own, so no failure goes unseen.
   */
  get logger(): Logger {
    return this.#log()
  }

  /** The URL as it may be logged, with the password replaced by `***`. */
  get display(): string {
    return this.#config?.display ?? '(invalid database URL)'
  }

  /** The underlying Kysely on the pool, never in a transaction. Prefer {@link Database.kysely}. */
  get root(): Kysely<DB> {
    this.#root ??= this.#open(this.#requireConfig(), false)
    return this.#root
  }

  /**
   * The Kysely for a module's own work in the background (job claims and completions, the
   * outbox relay, delivery results), never in a transaction. On MySQL/MariaDB a pool of its own
   * whose sessions read committed: at the default repeatable read, a statement that scans a
   * table locks the gaps it passes, so the app's inserts into that table (an enqueue inside a
   * request's transaction) would wait for background work or deadlock with it. Elsewhere it is
   * {@link Database.root}: PostgreSQL takes no gap locks, SQLite has one connection.
   */
  get background(): Kysely<DB> {
    const config = this.#requireConfig()
    if (config.engine !== 'mysql') return this.root
    this.#background ??= this.#open(config, true)
    return this.#background
  }

  #open(config: ParsedDatabaseUrl, readCommitted: boolean): Kysely<DB> {
    // Only PostgreSQL aborts a transaction whose statement failed, so only there may a write
    // go unanswered until the next statement: elsewhere the COMMIT behind a failed write
    // would save the rest without it.
    const pipelined = config.engine === 'postgres' ? withPipelinedWrites : (d: Dialect) => d
    const onPoolError = (error: Error) => {
      this.#log().error(
        { err: scrubError(error, config.secrets) },
        `database pool error (${config.display})`,
      )
    }
    return new Kysely<DB>({
      dialect: pipelined(withInputErrors(createDialect(config, onPoolError, readCommitted))),
      plugins: [...this.#plugins],
    })
  }

  /**
   * Adds a Kysely plugin to every query this database runs from now on, on the pool and in
   * transactions, through {@link Database.kysely}, {@link Database.root} and
   * {@link Database.background} alike. For modules
   * that watch or rewrite queries app-wide (`@mortar/auth` records which protected tables a
   * request read); call it from a module's `onStart`. A `Kysely` someone kept from `root`
   * before the call runs without it. A plugin that puts tables in a schema (`WithSchemaPlugin`)
   * is refused with `E_DATABASE_PLUGIN`: it would not reach raw SQL; name the schema in the URL.
   *
   * @example
   * ```ts
   * import { DATABASE } from '@mortar/core'
   * import { CamelCasePlugin } from 'kysely'
   *
   * app.resolve(DATABASE).addPlugin(new CamelCasePlugin())
   * ```
   */
  addPlugin(plugin: KyselyPlugin): void {
    refuseSchemaPlugin(plugin)
    this.#plugins.push(plugin)
    // withPlugin shares the driver and pool: nothing reconnects, and destroy() still closes it.
    if (this.#root !== undefined) this.#root = this.#root.withPlugin(plugin)
    if (this.#background !== undefined) this.#background = this.#background.withPlugin(plugin)
  }

  /** The open transaction of this database in the current async context, else the pool. */
  get current(): Kysely<DB> {
    const frame = findFrame(this)
    return frame === undefined ? this.root : (frame.trx as Kysely<DB>)
  }

  /** True when the calling code runs inside a transaction of this database. */
  get inTransaction(): boolean {
    return findFrame(this) !== undefined
  }

  /**
   * Checks the URL and reaches the server (a `select 1`); throws a {@link DatabaseError}
   * naming the host, never the password. `app.start()` calls it.
   */
  async connect(): Promise<void> {
    await this.ping()
  }

  /** Runs `select 1` and returns how long it took; throws like {@link Database.connect}. */
  async ping(): Promise<number> {
    const config = this.#requireConfig()
    const started = performance.now()
    try {
      await sql`select 1`.execute(this.root)
    } catch (error) {
      throw connectionError(config, error)
    }
    return Math.round((performance.now() - started) * 100) / 100
  }

  /** A ping as a health check: `{ status, latencyMs }`, never throwing. */
  async health(): Promise<DatabaseHealth> {
    const started = performance.now()
    try {
      const latencyMs = await this.ping()
      return { status: 'ok', latencyMs }
    } catch (error) {
      const latencyMs = Math.round((performance.now() - started) * 100) / 100
      return { status: 'error', latencyMs, error: thrownText(error) }
    }
  }

  /**
   * Runs `fn` in a transaction: commits when it resolves, rolls back when it throws. Inside,
   * {@link Database.kysely} (and every service using it) runs in the transaction. An open
   * transaction is joined unless `propagation` says otherwise; `beforeCommit` callbacks run
   * inside the outermost transaction just before its commit, `afterCommit` callbacks once it
   * has committed.
   *
   * A joined call that throws marks the transaction it joined rollback-only, even when the
   * caller catches the error: that transaction then rolls back and rejects with
   * `E_TRANSACTION_ROLLBACK_ONLY` instead of committing half the work. Use
   * `{ propagation: 'savepoint' }` for a part whose failure the caller recovers from.
   */
  async transaction<R>(
    fn: (trx: Transaction<DB>) => Promise<R>,
    options: TransactionOptions = {},
  ): Promise<R> {
    const outer = findFrame(this)
    const propagation = options.propagation ?? 'join'
    if (outer !== undefined) {
      if (propagation === 'join') return join(outer, fn)
      if (propagation === 'savepoint') return this.#savepoint(outer, fn)
      if (this.#config?.engine === 'sqlite') {
        throw new DatabaseError(
          'E_TRANSACTION',
          "SQLite has one connection, held by the open transaction: propagation 'new' would wait for itself. Use 'savepoint' or 'join'.",
        )
      }
    }
    return this.#begin(fn, options)
  }

  /**
   * Closes the pool (or the SQLite file) and stops being the default database. Idempotent;
   * `app.stop()` calls it.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return
    this.#destroyed = true
    removeDefaultDatabase(this)
    await Promise.all([this.#root?.destroy(), this.#background?.destroy()])
  }

  async #begin<R>(
    fn: (trx: Transaction<DB>) => Promise<R>,
    options: TransactionOptions,
  ): Promise<R> {
    let builder = this.root.transaction()
    if (options.isolationLevel !== undefined)
      builder = builder.setIsolationLevel(options.isolationLevel)
    if (options.accessMode !== undefined) builder = builder.setAccessMode(options.accessMode)
    const parent = transactionStorage.getStore()
    const callbacks: Array<() => unknown> = []
    const rollbacks: Array<() => void> = []
    // Kysely's callback transaction rather than a controlled one: measurably cheaper per
    // transaction, and savepoints are plain SQL that all three engines share.
    const result = await builder
      .execute((trx) => {
        const frame: TransactionFrame = {
          owner: this,
          trx,
          callbacks,
          beforeCommit: [],
          rollbacks,
          parent,
          root: undefined,
          savepoints: 0,
          rollbackOnly: undefined,
        }
        return transactionStorage.run(frame, async () => {
          const value = await fn(trx)
          // beforeCommit callbacks one at a time, in order (one registered meanwhile runs after
          // those before it). Thrown inside Kysely's callback, so Kysely rolls back: a failed
          // joined call (of the function or a callback), or a failed callback's own error.
          for (;;) {
            if (frame.rollbackOnly !== undefined) throw rollbackOnlyError(frame.rollbackOnly.cause)
            const next = frame.beforeCommit.shift()
            if (next === undefined) return value
            await next()
          }
        })
      })
      .catch((error: unknown) => {
        for (const rollback of rollbacks) rollback()
        throw error
      })
    if (callbacks.length > 0) await this.#runCallbacks(callbacks, parent)
    return result
  }

  /**
   * Runs after-commit callbacks outside the finished transaction, every one even if one fails.
   * The data has committed, so a failure must not reject the call (a caller that retries would
   * write twice): it is logged and handed to `onAfterCommitError`.
   */
  async #runCallbacks(
    callbacks: ReadonlyArray<() => unknown>,
    parent: TransactionFrame | undefined,
  ): Promise<void> {
    await transactionStorage.run(parent, async () => {
      for (const callback of callbacks) {
        try {
          await callback()
        } catch (error) {
          await this.#reportAfterCommitFailure(error)
        }
      }
    })
  }

  async #reportAfterCommitFailure(error: unknown): Promise<void> {
    const failure: AfterCommitFailure = { code: 'E_AFTER_COMMIT', error, database: this.display }
    this.#log().error(
      { err: error, code: failure.code, database: failure.database },
      'An afterCommit callback failed after its transaction committed; the data is saved.',
    )
    try {
      await this.#onAfterCommitError?.(failure)
    } catch (hookError) {
      this.#log().error({ err: hookError }, 'The onAfterCommitError hook failed.')
    }
  }

  #log(): Logger {
    return this.#logger ?? defaultLogger()
  }

  async #savepoint<R>(
    outer: TransactionFrame,
    fn: (trx: Transaction<DB>) => Promise<R>,
  ): Promise<R> {
    const root = outer.root ?? outer
    const name = sql.id(`mortar_sp_${++root.savepoints}`)
    const trx = outer.trx as Transaction<DB>
    await sql`savepoint ${name}`.execute(trx)
    const frame: TransactionFrame = {
      owner: this,
      trx,
      callbacks: [],
      beforeCommit: [],
      rollbacks: [],
      parent: transactionStorage.getStore(),
      root,
      savepoints: 0,
      rollbackOnly: undefined,
    }
    let result: R
    try {
      result = await transactionStorage.run(frame, () => fn(trx))
      if (frame.rollbackOnly !== undefined) throw rollbackOnlyError(frame.rollbackOnly.cause)
    } catch (error) {
      // Callbacks registered inside are dropped with the work they announced.
      await rollbackQuietly(() => sql`rollback to savepoint ${name}`.execute(trx))
      for (const rollback of frame.rollbacks) rollback()
      throw error
    }
    // The savepoint's work now stands or falls with the outer transaction, a failed release too.
    outer.rollbacks.push(...frame.rollbacks)
    await sql`release savepoint ${name}`.execute(trx)
    outer.callbacks.push(...frame.callbacks)
    outer.beforeCommit.push(...frame.beforeCommit)
    return result
  }

  #requireConfig(): ParsedDatabaseUrl {
    if (this.#configError !== undefined) throw this.#configError
    if (this.#destroyed) {
      throw new DatabaseError(
        'E_DATABASE_CONNECT',
        'The database was closed (app.stop() ran); start a new app.',
      )
    }
    return this.#config as ParsedDatabaseUrl
  }
}

async function rollbackQuietly(rollback: () => Promise<unknown>): Promise<void> {
  try {
    await rollback()
  } catch {
    // The connection is likely gone; the original error says more than the failed rollback.
  }
}

/**
 * Runs `fn` inside the open frame. A failure marks the frame rollback-only before it propagates:
 * the caller may catch it, but the half-done work must not commit.
 */
async function join<R, DB>(
  outer: TransactionFrame,
  fn: (trx: Transaction<DB>) => Promise<R>,
): Promise<R> {
  try {
    return await fn(outer.trx as Transaction<DB>)
  } catch (error) {
    outer.rollbackOnly ??= { cause: error }
    throw error
  }
}

function rollbackOnlyError(cause: unknown): DatabaseError {
  return new DatabaseError(
    'E_TRANSACTION_ROLLBACK_ONLY',
    'The transaction was rolled back: a transaction() or @Transactional() call that joined it failed, ' +
      'and committing the rest would save half of its work. Let that error propagate, or run the ' +
      "part you recover from with { propagation: 'savepoint' }.",
    { cause },
  )
}

let fallbackLogger: Logger | undefined
function defaultLogger(): Logger {
  fallbackLogger ??= createLogger()
  return fallbackLogger
}

function connectionError(config: ParsedDatabaseUrl, error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error
  const cause = scrubError(error, config.secrets)
  const code = errorCode(error)
  const where = `${config.host}${config.port === undefined ? '' : `:${config.port}`}`
  const engine = config.engine === 'postgres' ? 'PostgreSQL' : 'MySQL/MariaDB'
  if (config.engine === 'sqlite') {
    return new DatabaseError(
      'E_DATABASE_CONNECT',
      `Cannot open the SQLite database ${config.filename}: ${cause.message}. Check the path and its permissions.`,
      { cause },
    )
  }
  if ((code !== undefined && UNREACHABLE_CODES.has(code)) || /timeout/i.test(cause.message)) {
    return new DatabaseError(
      'E_DATABASE_UNREACHABLE',
      `Cannot reach the ${engine} server at ${where} (${code ?? cause.message}): check that it is running and that the database URL names the right host and port.`,
      { cause },
    )
  }
  return new DatabaseError(
    'E_DATABASE_CONNECT',
    `The ${engine} server at ${where} refused the connection to database '${config.database}': ${cause.message}. Check the user, password and database name.`,
    { cause },
  )
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string') return code
  const inner = (error as { errors?: unknown } | null)?.errors
  if (Array.isArray(inner)) return errorCode(inner[0])
  return undefined
}

/**
 * A Kysely that forwards every call to the database's current transaction, or to the pool
 * outside one. A proxy rather than a subclass: the target changes per async context.
 */
function createTransactionAwareKysely<DB>(database: Database<DB>): Kysely<DB> {
  return new Proxy(Object.create(Kysely.prototype) as Kysely<DB>, {
    get(_target, property) {
      const current = database.current
      const value = Reflect.get(current, property, current)
      return typeof value === 'function' ? value.bind(current) : value
    },
    has(_target, property) {
      return Reflect.has(database.current, property)
    },
  })
}
