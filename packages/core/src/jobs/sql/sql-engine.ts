import type { Kysely } from 'kysely'

/** The SQL engines the queue speaks. */
export type SqlEngine = 'sqlite' | 'postgres' | 'mysql'

/**
 * The engine behind a Kysely instance, from its dialect adapter: migrations receive only the
 * Kysely. Compared by class name, so a second copy of kysely (ESM and CJS both loaded) still
 * answers.
 */
export function sqlEngineOf(db: Pick<Kysely<unknown>, 'getExecutor'>): SqlEngine {
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
  throw new TypeError('The job queue runs on SQLite, PostgreSQL or MySQL/MariaDB only.')
}
