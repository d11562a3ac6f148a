import { existsSync, mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { DatabaseConnection, DialectAdapter, Driver, SqliteDialectConfig } from 'kysely'
import { SqliteAdapter, SqliteDialect, SqliteDriver } from 'kysely'
import { DatabaseError } from '../database/database-error.js'
import { NodeSqliteDatabase } from './node-sqlite-database.js'

/** Options of {@link NodeSqliteDialect}. */
export interface NodeSqliteDialectConfig {
  /** A file path (its parent directory is created) or `:memory:`. */
  readonly filename: string
  /** How long a write waits for another process's lock, in milliseconds (default 5,000). */
  readonly busyTimeoutMs?: number
  /**
   * `rwc` (default) opens the file or creates it (and its directory); `rw` opens an existing
   * file; `ro` opens an existing file read-only, so every write fails.
   */
  readonly mode?: 'rwc' | 'rw' | 'ro'
  /** Runs once the database is open, e.g. to set more pragmas. */
  readonly onOpen?: (database: NodeSqliteDatabase) => void | Promise<void>
}

const DEFAULT_BUSY_TIMEOUT_MS = 5_000

/**
 * Kysely's `SqliteDialect` on Node's built-in `node:sqlite`: WAL journal (for files), foreign
 * keys on, a busy timeout, and `BEGIN IMMEDIATE` transactions whose lock is awaited without
 * blocking the event loop, so two processes (or two instances in one process) writing the same
 * file queue up instead of failing. `node:sqlite` is imported when the first query runs.
 *
 * @example
 * ```ts
 * import { NodeSqliteDialect } from '@mortar/core'
 * import { Kysely } from 'kysely'
 *
 * const db = new Kysely<MyDb>({ dialect: new NodeSqliteDialect({ filename: './var/app.db' }) })
 * ```
 */
export class NodeSqliteDialect extends SqliteDialect {
  readonly #busyTimeoutMs: number
  readonly #holder: { database?: NodeSqliteDatabase }
  readonly #driverConfig: SqliteDialectConfig

  constructor(config: NodeSqliteDialectConfig) {
    const holder: { database?: NodeSqliteDatabase } = {}
    const driverConfig: SqliteDialectConfig = {
      database: async () => {
        holder.database = await openNodeSqlite(config)
        await config.onOpen?.(holder.database)
        return holder.database
      },
    }
    super(driverConfig)
    this.#busyTimeoutMs = config.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS
    this.#holder = holder
    this.#driverConfig = driverConfig
  }

  override createDriver(): Driver {
    return new NodeSqliteDriver(this.#driverConfig, this.#holder, this.#busyTimeoutMs)
  }

  override createAdapter(): DialectAdapter {
    return new NodeSqliteAdapter()
  }
}

/**
 * SQLite rolls DDL back like any write, so migrations run in one `BEGIN IMMEDIATE`
 * transaction: that is also the lock that makes two processes migrate one after the other.
 */
class NodeSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true
  }
}

class NodeSqliteDriver extends SqliteDriver {
  readonly #holder: { database?: NodeSqliteDatabase }
  readonly #busyTimeoutMs: number

  constructor(
    config: SqliteDialectConfig,
    holder: { database?: NodeSqliteDatabase },
    busyTimeoutMs: number,
  ) {
    super(config)
    this.#holder = holder
    this.#busyTimeoutMs = busyTimeoutMs
  }

  override async beginTransaction(_connection: DatabaseConnection): Promise<void> {
    const database = this.#holder.database
    if (!database) throw new Error('The SQLite database is not open yet.')
    await beginImmediate(database, this.#busyTimeoutMs)
  }
}

async function openNodeSqlite(config: NodeSqliteDialectConfig): Promise<NodeSqliteDatabase> {
  const { DatabaseSync } = await loadNodeSqlite()
  const memory = config.filename === ':memory:' || config.filename === ''
  const mode = config.mode ?? 'rwc'
  // node:sqlite opens `file:` URIs too; the path is what follows the scheme.
  if (!memory && mode !== 'rwc' && !existsSync(config.filename.replace(/^file:(\/\/)?/, ''))) {
    throw new Error(`the file does not exist, and mode=${mode} opens an existing file only`)
  }
  if (!memory && mode === 'rwc' && !config.filename.startsWith('file:')) {
    mkdirSync(dirname(resolve(config.filename)), { recursive: true })
  }
  const raw = new DatabaseSync(memory ? ':memory:' : config.filename, {
    timeout: config.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS,
    enableForeignKeyConstraints: true,
    readOnly: mode === 'ro',
  })
  // A read-only connection keeps the journal mode the file has.
  if (!memory && mode !== 'ro') {
    raw.exec('PRAGMA journal_mode = WAL')
    // With WAL, NORMAL stays consistent after a crash and saves an fsync per commit.
    raw.exec('PRAGMA synchronous = NORMAL')
  }
  return new NodeSqliteDatabase(raw)
}

// Node before 22.13 has no node:sqlite (22.5 to 22.12 only behind a flag), and its own error
// ("No such built-in module") does not say that the Node version is the problem.
async function loadNodeSqlite(): Promise<typeof import('node:sqlite')> {
  try {
    return await import('node:sqlite')
  } catch (error) {
    throw new DatabaseError(
      'E_DATABASE_DRIVER',
      `SQLite needs Node 22.13 or newer: Mortar runs it on Node's built-in node:sqlite, which Node ${process.versions.node} does not have. Upgrade Node (the repository pins Node 24 as a devDependency, so npm scripts and npx use it), or use a postgres:// or mysql:// database URL.`,
      { cause: error },
    )
  }
}

/**
 * `BEGIN IMMEDIATE` takes the write lock up front, so a transaction never fails half-way when
 * another process wrote meanwhile. SQLite's own busy wait is synchronous and would freeze the
 * event loop (and deadlock two instances in one process), so the lock is polled here instead.
 */
async function beginImmediate(database: NodeSqliteDatabase, busyTimeoutMs: number): Promise<void> {
  const raw = database.raw
  const deadline = Date.now() + busyTimeoutMs
  let waitMs = 1
  for (;;) {
    raw.exec('PRAGMA busy_timeout = 0')
    try {
      raw.exec('BEGIN IMMEDIATE')
      return
    } catch (error) {
      if (!isBusy(error) || Date.now() >= deadline) throw error
    } finally {
      raw.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`)
    }
    await new Promise((done) => setTimeout(done, waitMs))
    waitMs = Math.min(waitMs * 2, 50)
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: unknown } | null)?.errcode
  // SQLITE_BUSY and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT…) share the low byte 5.
  return typeof code === 'number' && (code & 0xff) === 5
}
