export { NodeSqliteDatabase, SQLITE_JS_TEXT } from './node-sqlite-database.js'
export { NodeSqliteDialect } from './node-sqlite-dialect.js'
export type { NodeSqliteDialectConfig } from './node-sqlite-dialect.js'
