import type { Kysely } from 'kysely'
import type { Database } from '../../persistence/database/database.js'

/**
 * Where the queue's own statements run: the background pool, outside any transaction, on server
 * engines (on MariaDB its sessions read committed, so scans of the queue take no gap locks that
 * an enqueue would wait for); on SQLite the transaction-aware instance, since its single
 * connection may be held by the transaction of the very handler that reports progress.
 */
export function queueDb(database: Database): Kysely<unknown> {
  return (database.engine === 'sqlite' ? database.kysely : database.background) as Kysely<unknown>
}

/** A transaction of the queue's own, on the connections {@link queueDb} runs on. */
export function queueTransaction<R>(
  database: Database,
  fn: (db: Kysely<unknown>) => Promise<R>,
): Promise<R> {
  if (database.engine === 'sqlite') {
    return database.transaction(() => fn(database.kysely as Kysely<unknown>))
  }
  return (database.background as Kysely<unknown>).transaction().execute(fn)
}
