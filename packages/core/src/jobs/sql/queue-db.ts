import type { Kysely } from 'kysely'
import type { Database } from '../../persistence/database/database.js'

/**
 * Where the queue's own statements run: the pool, outside any transaction, on server engines;
 * on SQLite the transaction-aware instance, since its single connection may be held by the
 * transaction of the very handler that reports progress.
 */
export function queueDb(database: Database): Kysely<unknown> {
  return (database.engine === 'sqlite' ? database.kysely : database.root) as Kysely<unknown>
}
