import type { DatabaseConnection, Dialect, Driver } from 'kysely'

/**
 * The dialect whose connections are each patched once by `patch`, in place, as Kysely's own
 * query logging does: the driver keeps its connection objects. Patched rather than proxied: a
 * proxy's `get` would run (and bind) on every driver call of every query; this costs one `then`
 * per acquisition. Each call keeps its own record, so several patches stack on one connection.
 */
export function withPatchedConnections(
  dialect: Dialect,
  patch: (connection: DatabaseConnection) => void,
): Dialect {
  const patched = new WeakSet<DatabaseConnection>()
  const ensurePatched = (connection: DatabaseConnection): DatabaseConnection => {
    if (!patched.has(connection)) {
      patched.add(connection)
      patch(connection)
    }
    return connection
  }
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => {
      const driver: Driver = dialect.createDriver()
      const acquire = driver.acquireConnection.bind(driver)
      driver.acquireConnection = (options) => acquire(options).then(ensurePatched)
      return driver
    },
  }
}
