export { NodeSqliteDatabase } from './node-sqlite-database.js'
export { NodeSqliteDialect } from './node-sqlite-dialect.js'
export type { NodeSqliteDialectConfig } from './node-sqlite-dialect.js'
