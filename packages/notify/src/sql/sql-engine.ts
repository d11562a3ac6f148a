import type { Kysely } from 'kysely'

/** The SQL engines notify's tables live on. */
export type SqlEngine = 'sqlite' | 'postgres' | 'mysql'

/**
 * The engine behind a Kysely instance, from its dialect adapter's class name (so a second copy of
 * kysely, ESM and CJS both loaded, still answers). Internal: where portable SQL runs out.
 */
export function sqlEngine(db: Pick<Kysely<unknown>, 'getExecutor'>): SqlEngine {
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
  throw new TypeError(
    '@mortar/notify stores its ledger on SQLite, PostgreSQL or MySQL/MariaDB only.',
  )
}
