import type { DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely'
import { toDatabaseInputError } from './database-input-error.js'

/**
 * The dialect with every query's data errors turned into `DatabaseInputError` (422), whichever
 * code ran the query. Each connection's `executeQuery` and `streamQuery` are wrapped once, in
 * place, as Kysely's own query logging does: the driver keeps its connection objects.
 */
export function withInputErrors(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => wrapDriver(dialect.createDriver()),
  }
}

const wrapped = new WeakSet<DatabaseConnection>()

function wrapDriver(driver: Driver): Driver {
  return new Proxy(driver, {
    get(target, property) {
      if (property === 'acquireConnection') {
        return async (...args: Parameters<Driver['acquireConnection']>) => {
          const connection = await target.acquireConnection(...args)
          if (!wrapped.has(connection)) wrapConnection(connection)
          return connection
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

function translate(error: unknown): never {
  throw toDatabaseInputError(error) ?? error
}

function wrapConnection(connection: DatabaseConnection): void {
  wrapped.add(connection)
  const execute = connection.executeQuery.bind(connection)
  connection.executeQuery = <R>(...args: Parameters<DatabaseConnection['executeQuery']>) =>
    execute<R>(...args).catch(translate)
  const stream = connection.streamQuery.bind(connection)
  connection.streamQuery = async function* <R>(
    ...args: Parameters<DatabaseConnection['streamQuery']>
  ): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* stream<R>(...args)
    } catch (error) {
      translate(error)
    }
  }
}
