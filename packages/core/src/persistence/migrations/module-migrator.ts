import { type Kysely, sql, type Transaction } from 'kysely'
import { thrownText } from '../../errors/thrown-text.js'
import { safeText } from '../../validation/safe-text.js'
import { DatabaseError } from '../database/database-error.js'
import { engineOf } from '../database/database-engine.js'
import { convertToExactUtf8, MYSQL_EXACT_TABLE } from '../database/exact-text.js'
import type {
  MigrationContext,
  MigrationDatabase,
  MigrationReport,
  MigrationSource,
  MigrationStatus,
} from './migration.js'

/** Options of {@link ModuleMigrator}. */
export interface ModuleMigratorOptions {
  /** The database to migrate; pass the pool, not a transaction. */
  readonly db: Kysely<unknown>
  /** Modules in app order; each module's migrations run in name order. */
  readonly sources: readonly MigrationSource[]
  /** The history table (default `mortar_migration`). */
  readonly table?: string
}

interface Planned {
  readonly name: string
  readonly module: string
  readonly up: (db: MigrationDatabase, context: MigrationContext) => Promise<void>
  readonly down: ((db: MigrationDatabase, context: MigrationContext) => Promise<void>) | undefined
}

interface HistoryRow {
  name: string
  module: string
  seq: number | string
  applied_at: string
}

const LOCK_ROW_ID = 'migration_lock'
// The history's name column: a name it cannot hold as written was refused by some engines only
// after the migration ran (PostgreSQL and MariaDB past 255 characters, PostgreSQL a NUL; on
// MariaDB the change stayed, unrecorded, for the next run to apply again), and one with a lone
// surrogate was recorded as U+FFFD everywhere, so every later run refused it as renamed.
const MAX_NAME_LENGTH = 255
const storableName = safeText({ min: 1, max: MAX_NAME_LENGTH })

/**
 * Runs module migrations in module order under Kysely's migration lock (a PostgreSQL advisory
 * lock, MySQL `GET_LOCK`, SQLite's write lock), so two processes migrating at once apply each
 * migration once. Kysely's own `Migrator` sorts every name alphabetically, which would run
 * `auth/…` before `shop/…` whatever the module order; this runner keeps the order and uses the
 * same lock.
 *
 * @example
 * ```ts
 * import { ModuleMigrator } from '@mortar/core'
 *
 * const migrator = new ModuleMigrator({
 *   db: database.root,
 *   sources: [{ module: 'shop', migrations: { '0001_create_products': createProducts } }],
 * })
 * const { ran } = await migrator.up() // ['shop/0001_create_products']
 * ```
 */
export class ModuleMigrator {
  readonly #db: Kysely<unknown>
  readonly #plan: readonly Planned[]
  readonly #table: string

  constructor(options: ModuleMigratorOptions) {
    this.#db = options.db
    this.#table = options.table ?? 'mortar_migration'
    this.#plan = plan(options.sources)
  }

  /**
   * Every known migration with when it was applied, in the order they run. Throws
   * `E_MIGRATION_RENAMED` when an applied migration was renamed in the code.
   */
  async status(): Promise<MigrationStatus[]> {
    return this.#locked(async (db) => {
      const history = await this.#history(db)
      this.#refuseRenames(history)
      const applied = new Map(history.map((row) => [row.name, row.applied_at]))
      return this.#plan.map((step) => ({
        name: step.name,
        module: step.module,
        appliedAt: applied.get(step.name),
      }))
    })
  }

  /**
   * The migrations not applied yet, in the order `up` would run them. Reads only, without the
   * migration lock (on SQLite a write lock), so processes starting beside a busy writer never
   * wait on it. Throws `E_MIGRATION_RENAMED` like `up`.
   */
  async pending(): Promise<string[]> {
    const db = this.#db as MigrationDatabase
    const history = (await this.#historyExists()) ? await this.#history(db) : []
    this.#refuseRenames(history)
    const applied = new Set(history.map((row) => row.name))
    return this.#plan.filter((step) => !applied.has(step.name)).map((step) => step.name)
  }

  /**
   * Applies every pending migration, modules in order; returns what ran. Refuses, before
   * running anything, when an applied migration was renamed in the code (`E_MIGRATION_RENAMED`).
   */
  async up(): Promise<MigrationReport> {
    return this.#locked(async (db) => {
      const history = await this.#history(db)
      this.#refuseRenames(history)
      const applied = new Set(history.map((row) => row.name))
      let seq = history.reduce((max, row) => Math.max(max, Number(row.seq)), 0)
      const ran: string[] = []
      for (const step of this.#plan) {
        if (applied.has(step.name)) continue
        await this.#run(step, 'up', db, ran)
        await db
          .insertInto(this.#table)
          .values({
            name: step.name,
            module: step.module,
            seq: ++seq,
            applied_at: new Date().toISOString(),
          })
          .execute()
        ran.push(step.name)
      }
      return { direction: 'up', ran }
    })
  }

  /** Reverts the last `steps` applied migrations (default 1), newest first; returns what ran. */
  async down(options: { readonly steps?: number } = {}): Promise<MigrationReport> {
    const steps = options.steps ?? 1
    return this.#locked(async (db) => {
      const history = (await this.#history(db)).sort((a, b) => Number(b.seq) - Number(a.seq))
      const byName = new Map(this.#plan.map((step) => [step.name, step]))
      const ran: string[] = []
      for (const row of history.slice(0, steps)) {
        const step = byName.get(row.name)
        if (step === undefined) {
          throw new DatabaseError(
            'E_MIGRATION',
            `Cannot revert ${row.name}: no module of this app defines it. Add its module back, or remove its row from ${this.#table}.`,
          )
        }
        await this.#run(step, 'down', db, ran)
        await db.deleteFrom(this.#table).where('name', '=', step.name).execute()
        ran.push(step.name)
      }
      return { direction: 'down', ran }
    })
  }

  async #run(
    step: Planned,
    direction: 'up' | 'down',
    db: MigrationDatabase,
    ran: readonly string[],
  ): Promise<void> {
    const fn = direction === 'up' ? step.up : step.down
    if (fn === undefined) {
      throw new DatabaseError(
        'E_MIGRATION',
        `Migration ${step.name} has no down(); it cannot be reverted automatically.`,
        { details: { ran } },
      )
    }
    try {
      await fn(db, { engine: engineOf(this.#db) })
    } catch (error) {
      const transactional = this.#db.getExecutor().adapter.supportsTransactionalDdl
      throw new DatabaseError(
        'E_MIGRATION',
        `Migration ${step.name} (${direction}) failed: ${thrownText(error)}. ${
          transactional
            ? 'The batch was rolled back; nothing was applied.'
            : `Already ${direction === 'up' ? 'applied' : 'reverted'} in this run: ${ran.join(', ') || 'none'}; the failed one may be half done (this engine does not roll back DDL).`
        }`,
        { cause: error, details: { failed: step.name, ran } },
      )
    }
  }

  /**
   * An applied migration whose name the code no longer has, while an unapplied one of the same
   * module sits at its place in the module's order, is a rename: running the "new" one would
   * apply the same change twice. The history row is matched to the code by position.
   */
  #refuseRenames(history: readonly HistoryRow[]): void {
    const known = new Set(this.#plan.map((step) => step.name))
    const applied = new Set(history.map((row) => row.name))
    const renames: string[] = []
    for (const module of new Set(this.#plan.map((step) => step.module))) {
      const code = this.#plan.filter((step) => step.module === module).map((step) => step.name)
      const rows = history
        .filter((row) => row.module === module)
        .sort((a, b) => Number(a.seq) - Number(b.seq))
      rows.forEach((row, index) => {
        const inItsPlace = code[index]
        if (known.has(row.name) || inItsPlace === undefined || applied.has(inItsPlace)) return
        renames.push(`'${row.name}' (applied) is now '${inItsPlace}' (not applied)`)
      })
    }
    if (renames.length === 0) return
    throw new DatabaseError(
      'E_MIGRATION_RENAMED',
      `Applied migrations are missing from the code with unapplied ones in their place, as after a rename: ${renames.join('; ')}. Running them could apply the same change twice, so nothing ran. Give the migrations back their applied names; or, if one really is the same change, rename its row (update ${this.#table} set name = '<new>' where name = '<old>'); or, if it was removed on purpose, delete its row.`,
      { details: { renames } },
    )
  }

  /** One connection, Kysely's migration lock, and a transaction where DDL is transactional. */
  async #locked<R>(work: (db: MigrationDatabase) => Promise<R>): Promise<R> {
    const adapter = this.#db.getExecutor().adapter
    const lock = { lockTable: `${this.#table}_lock`, lockRowId: LOCK_ROW_ID }
    return this.#db.connection().execute(async (connection) => {
      await adapter.acquireMigrationLock(connection, lock)
      try {
        const inside = async (db: Kysely<unknown> | Transaction<unknown>) => {
          // Created under the lock: two processes never race to create the history table.
          await this.#ensureTable(db)
          return work(db as MigrationDatabase)
        }
        return adapter.supportsTransactionalDdl
          ? await connection.transaction().execute(inside)
          : await inside(connection)
      } finally {
        await adapter.releaseMigrationLock(connection, lock)
      }
    })
  }

  async #ensureTable(db: Kysely<unknown>): Promise<void> {
    const mysql = engineOf(this.#db) === 'mysql'
    await db.schema
      .createTable(this.#table)
      .ifNotExists()
      .addColumn('name', 'varchar(255)', (column) => column.primaryKey())
      .addColumn('module', 'varchar(255)', (column) => column.notNull())
      .addColumn('seq', 'integer', (column) => column.notNull())
      .addColumn('applied_at', 'varchar(32)', (column) => column.notNull())
      // Names compare exactly and hold any character, whatever the database's default charset.
      .$call((builder) => (mysql ? builder.modifyEnd(sql.raw(MYSQL_EXACT_TABLE)) : builder))
      .execute()
    // A history table an older Mortar created took the database's charset.
    if (mysql) await convertToExactUtf8(db, this.#table)
  }

  async #historyExists(): Promise<boolean> {
    const table = this.#table
    const query = {
      sqlite: sql`select name from sqlite_master where type = 'table' and name = ${table}`,
      // to_regclass follows search_path, as the migrator's own queries do.
      postgres: sql`select 1 from (select to_regclass(${table}) as found) t where found is not null`,
      mysql: sql`select table_name from information_schema.tables where table_schema = database() and table_name = ${table}`,
    }[engineOf(this.#db)]
    return (await query.execute(this.#db)).rows.length > 0
  }

  async #history(db: MigrationDatabase): Promise<HistoryRow[]> {
    const rows = await db
      .selectFrom(this.#table)
      .select(['name', 'module', 'seq', 'applied_at'])
      .execute()
    return rows as unknown as HistoryRow[]
  }
}

function plan(sources: readonly MigrationSource[]): Planned[] {
  const steps: Planned[] = []
  const seen = new Set<string>()
  for (const source of sources) {
    if (seen.has(source.module)) {
      throw new DatabaseError(
        'E_MIGRATION',
        `Two modules are named '${source.module}'; module names must be unique.`,
      )
    }
    seen.add(source.module)
    for (const key of Object.keys(source.migrations).sort()) {
      const migration = source.migrations[key]
      if (migration === undefined) continue
      const name = `${source.module}/${key}`
      if (!storableName.safeParse(name).success) {
        throw new DatabaseError(
          'E_MIGRATION',
          `The migration ${JSON.stringify(name)} cannot be recorded as written: a migration's name, with its module's, is at most ${MAX_NAME_LENGTH} characters without NUL or a lone surrogate. Nothing ran.`,
        )
      }
      steps.push({
        name,
        module: source.module,
        up: migration.up.bind(migration),
        down: migration.down?.bind(migration),
      })
    }
  }
  return steps
}
