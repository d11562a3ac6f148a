import { type Kysely, MysqlAdapter, PostgresAdapter, SqliteAdapter } from 'kysely'

/** The SQL engines the Kysely-backed stores support. */
export type SqlEngine = 'postgres' | 'mysql' | 'sqlite'

/**
 * The engine behind a Kysely instance, read from its dialect adapter. Internal: the stores need
 * it where portable SQL runs out (insert-if-absent, a text column over 64 KiB on MySQL).
 */
export function sqlEngine(db: Kysely<unknown>): SqlEngine {
  const adapter = db.getExecutor().adapter
  if (adapter instanceof PostgresAdapter) return 'postgres'
  if (adapter instanceof MysqlAdapter) return 'mysql'
  if (adapter instanceof SqliteAdapter) return 'sqlite'
  // A second copy of kysely (ESM and CJS both loaded) defeats instanceof: fall back on names.
  for (
    let proto = Object.getPrototypeOf(adapter);
    proto !== null;
    proto = Object.getPrototypeOf(proto)
  ) {
    const name: unknown = proto.constructor?.name
    if (name === 'PostgresAdapter') return 'postgres'
    if (name === 'MysqlAdapter') return 'mysql'
    if (name === 'SqliteAdapter') return 'sqlite'
  }
  throw new TypeError(
    'Unsupported Kysely dialect: the session stores run on PostgreSQL, MySQL/MariaDB and SQLite.',
  )
}
