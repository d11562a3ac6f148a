export type {
  Migration,
  MigrationContext,
  MigrationDatabase,
  MigrationReport,
  MigrationSource,
  MigrationStatus,
  ModuleMigrations,
} from './migration.js'
export { ModuleMigrator } from './module-migrator.js'
export type { ModuleMigratorOptions } from './module-migrator.js'
