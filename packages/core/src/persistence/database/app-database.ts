import { envValue, isDevelopment } from '../../config/environment.js'
import type { Binder } from '../../di/binder.js'
import type { Logger } from '../../logger/logger.js'
import type {
  MigrationReport,
  MigrationSource,
  MigrationStatus,
  ModuleMigrations,
} from '../migrations/index.js'
import { ModuleMigrator } from '../migrations/index.js'
import type { AfterCommitFailure } from '../transactions/after-commit-failure.js'
import { useDefaultDatabase } from '../transactions/transaction.js'
import { Database } from './database.js'
import { DatabaseError } from './database-error.js'
import { DATABASE, databaseToken } from './database-tokens.js'
import type { DatabaseOptions } from './database-url.js'

/** One check of {@link AppHealth}. */
export interface HealthCheck {
  readonly status: 'ok' | 'error'
  readonly latencyMs: number
  readonly error?: string
}

/** What `app.health()` returns: `error` when any check failed. */
export interface AppHealth {
  readonly status: 'ok' | 'error'
  readonly checks: Readonly<Record<string, HealthCheck>>
}

/** Options of `app.migrate()`. */
export interface MigrateOptions {
  /** `up` (default) applies what is pending; `down` reverts the newest `steps`. */
  readonly direction?: 'up' | 'down'
  /** How many migrations `down` reverts (default 1). */
  readonly steps?: number
}

/** The `database` option of `createApp`: a URL or {@link DatabaseOptions}. */
export type AppDatabaseOption = string | DatabaseOptions

/**
 * The app's database from `createApp({ database })`, else from `DATABASE_URL`; `undefined` for
 * an app without one. Nothing connects until `start()` or `migrate()`.
 */
export function createAppDatabase(
  option: AppDatabaseOption | undefined,
  logger: Logger,
  onAfterCommitError: (failure: AfterCommitFailure) => Promise<void>,
): Database | undefined {
  const chosen = option ?? envValue(process.env, 'DATABASE_URL')
  if (chosen === undefined || chosen === '') return undefined
  const options: DatabaseOptions = typeof chosen === 'string' ? { url: chosen } : chosen
  return new Database({ ...options, logger, onAfterCommitError })
}

/** Binds `DATABASE` and the transaction-aware `Kysely` of `databaseToken()`. */
export function bindAppDatabase<C>(binder: Binder<C>, database: Database): void {
  binder.bind(DATABASE, { useValue: database })
  binder.bind(databaseToken<unknown>(), { useValue: database.kysely })
}

/** Connects (failing with a clear `DatabaseError`) and becomes the default of `transaction()`. */
export async function startAppDatabase(database: Database, logger: Logger): Promise<void> {
  await database.connect()
  useDefaultDatabase(database)
  logger.debug({ database: database.display }, 'Database connected')
}

/** The modules' migrations, in module order. */
export function migrationSources(
  modules: readonly { readonly name: string; readonly migrations?: ModuleMigrations }[],
): MigrationSource[] {
  return modules.flatMap((module) =>
    module.migrations === undefined ? [] : [{ module: module.name, migrations: module.migrations }],
  )
}

/** Runs `app.migrate()`: connects, then applies or reverts under the migration lock. */
export async function migrateAppDatabase(
  database: Database,
  sources: readonly MigrationSource[],
  options: MigrateOptions = {},
): Promise<MigrationReport> {
  await database.connect()
  const migrator = new ModuleMigrator({ db: database.root, sources })
  return options.direction === 'down'
    ? migrator.down(options.steps === undefined ? {} : { steps: options.steps })
    : migrator.up()
}

/**
 * Runs at `app.start()`: migrations not applied yet are logged in development and tests
 * (`NODE_ENV=development` or `test`) and refused everywhere else, NODE_ENV unset included, with
 * `E_MIGRATIONS_PENDING`, so new code never serves an old schema. An app that migrates itself calls `app.migrate()` before `start()`, which leaves
 * nothing pending. A renamed applied migration fails start everywhere (`E_MIGRATION_RENAMED`).
 */
export async function checkPendingMigrations(
  database: Database,
  sources: readonly MigrationSource[],
  logger: Logger,
): Promise<void> {
  if (sources.length === 0) return
  const pending = await new ModuleMigrator({ db: database.root, sources }).pending()
  if (pending.length === 0) return
  const what = `${pending.length} migration${pending.length === 1 ? ' is' : 's are'} not applied (${pending.join(', ')})`
  const fix =
    'run `npx mortar migrate up --app <app file>` before starting, or call `app.migrate()` before `app.start()` in an app that migrates itself'
  if (!isDevelopment()) {
    throw new DatabaseError(
      'E_MIGRATIONS_PENDING',
      `The app will not start outside development (NODE_ENV=${process.env.NODE_ENV ?? 'unset'}) with an older schema: ${what}; ${fix}.`,
      { details: { pending } },
    )
  }
  logger.warn({ pending }, `${what}; ${fix}.`)
}

/** Runs `app.migrationStatus()`. */
export async function appMigrationStatus(
  database: Database,
  sources: readonly MigrationSource[],
): Promise<MigrationStatus[]> {
  await database.connect()
  return new ModuleMigrator({ db: database.root, sources }).status()
}

/** Runs `app.health()`: a database ping when the app has a database. */
export async function appHealth(database: Database | undefined): Promise<AppHealth> {
  if (database === undefined) return { status: 'ok', checks: {} }
  const check = await database.health()
  return { status: check.status, checks: { database: check } }
}
