import { type Kysely, type RawBuilder, sql } from 'kysely'
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

/**
 * Deletes the `mortar_job` rows of `ids`. MariaDB reaches them through the primary key, by a
 * join on the ids as a JSON table: `id in (…)` over a small table is planned as a scan, and a
 * DELETE's scan waits for every row another transaction holds, listed or not (a relay that
 * holds its rows across a Redis round trip stalled every other relay's delete).
 */
export function deleteJobs(database: Database, ids: readonly string[]): RawBuilder<unknown> {
  switch (database.engine) {
    case 'mysql':
      return sql`delete j from mortar_job as j join json_table(${JSON.stringify(ids)},
        '$[*]' columns (id bigint path '$')) as ids on j.id = ids.id`
    case 'sqlite':
      return sql`delete from mortar_job where id in (${sql.join(ids.map(Number))})`
    default:
      return sql`delete from mortar_job where id = any(${ids}::bigint[])`
  }
}
