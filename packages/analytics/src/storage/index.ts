export { analyticsMigrations } from './analytics-migrations.js'
export * from './analytics-tables.js'
export { engineOf, jsonText, jsonType, longText, textKey, uuidType } from './sql-dialect.js'
export type { RefusedEntry } from './batch-limits.js'
