// Internal helpers of the Kysely-backed stores; not part of the public API.
export { caseSensitiveVarchar } from './case-sensitive-varchar.js'
export { insertIfAbsent } from './insert-if-absent.js'
export { type SqlEngine, sqlEngine } from './sql-engine.js'
