export type { AppDatabaseOption, AppHealth, HealthCheck, MigrateOptions } from './app-database.js'
export { ChurnVacuum } from './churn-vacuum.js'
export type { ChurnVacuumOptions } from './churn-vacuum.js'
export { Database } from './database.js'
export { engineOf } from './database-engine.js'
export { exactTextType } from './exact-text.js'
export type {
  DatabaseHealth,
  DatabaseInit,
  TransactionOptions,
  TransactionPropagation,
} from './database.js'
export { DatabaseError } from './database-error.js'
export { isDeadlock } from './deadlock.js'
export { executePrepared } from './pipelined-write.js'
export { DatabaseInputError } from './database-input-error.js'
export type { DatabaseInputReason } from './database-input-error.js'
export type { DatabaseErrorCode } from './database-error.js'
export { DATABASE, databaseToken, resolveDatabase } from './database-tokens.js'
export type { Resolver } from './database-tokens.js'
export { parseDatabaseUrl } from './database-url.js'
export { refuseSchemaPlugins } from './schema-plugin.js'
export type { DatabaseEngine, DatabaseOptions, ParsedDatabaseUrl } from './database-url.js'
