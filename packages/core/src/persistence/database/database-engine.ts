import type { Kysely } from 'kysely'
import type { DatabaseEngine } from './database-url.js'

/**
 * The engine behind a Kysely instance, from its dialect adapter: the migrator and the job queue
 * receive only the Kysely. Compared by class name, so a second copy of kysely (ESM and CJS both
 * loaded) still answers.
 */
export function engineOf(db: Pick<Kysely<unknown>, 'getExecutor'>): DatabaseEngine {
  for (
    let proto = Object.getPrototypeOf(db.getExecutor().adapter);
    proto !== null;
    proto = Object.getPrototypeOf(proto)
  ) {
    const name: unknown = proto.constructor?.name
    if (name === 'PostgresAdapter') return 'postgres'
    if (name === 'MysqlAdapter') return 'mysql'
    if (name === 'SqliteAdapter') return 'sqlite'
  }
  throw new TypeError('Mortar runs on SQLite, PostgreSQL or MySQL/MariaDB only.')
}
