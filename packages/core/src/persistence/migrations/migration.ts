import type { Kysely } from 'kysely'
import type { DatabaseEngine } from '../database/database-url.js'

/**
 * The Kysely a migration receives: any table, any column. Migrations describe the schema as it
 * was when they were written, so they are not typed by today's database interface.
 */
export type MigrationDatabase = Kysely<Record<string, Record<string, unknown>>>

/** What a migration is told besides the database: the engine it runs on. */
export interface MigrationContext {
  readonly engine: DatabaseEngine
}

/**
 * One schema change: `up` applies it, `down` undoes it (optional; without it `migrate down`
 * stops there). Both receive the engine they run on, for the few statements that differ:
 * auto-increment ids are `integer … autoincrement` on SQLite, `auto_increment` on MySQL/MariaDB
 * and an identity column on PostgreSQL. On PostgreSQL and SQLite a batch runs in one
 * transaction; on MySQL/MariaDB DDL commits by itself, so keep each migration small. Once
 * applied, a migration's name is its identity: renaming it is refused (`E_MIGRATION_RENAMED`).
 *
 * @example
 * ```ts
 * import type { Migration } from '@mortar/core'
 *
 * export const createProducts: Migration = {
 *   async up(db, { engine }) {
 *     await db.schema.createTable('product')
 *       .addColumn('id', 'integer', (c) =>
 *         engine === 'postgres' ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey().autoIncrement())
 *       .addColumn('name', 'varchar(200)', (c) => c.notNull())
 *       .execute()
 *   },
 *   async down(db) {
 *     await db.schema.dropTable('product').execute()
 *   },
 * }
 * ```
 */
export interface Migration {
  up(db: MigrationDatabase, context: MigrationContext): Promise<void>
  down?(db: MigrationDatabase, context: MigrationContext): Promise<void>
}

/** A module's migrations by name; names sort in the order they run (`0001_…`, `0002_…`). */
export type ModuleMigrations = Readonly<Record<string, Migration>>

/** The migrations of one module, in the order modules are given to the app. */
export interface MigrationSource {
  /** The module name; a migration is recorded as `<module>/<name>`. */
  readonly module: string
  readonly migrations: ModuleMigrations
}

/** One migration's state in {@link ModuleMigrator.status}. */
export interface MigrationStatus {
  /** `<module>/<name>`. */
  readonly name: string
  readonly module: string
  /** When it was applied (ISO 8601), or `undefined` while pending. */
  readonly appliedAt: string | undefined
}

/** What one `migrate up` or `migrate down` did. */
export interface MigrationReport {
  readonly direction: 'up' | 'down'
  /** The migrations applied (up) or reverted (down), in the order they ran. */
  readonly ran: readonly string[]
}
