import type { DatabaseConnection, Dialect, QueryResult } from 'kysely'
import { withPatchedConnections } from './connection-patching.js'
import { toDatabaseInputError } from './database-input-error.js'

/**
 * The dialect with every query's data errors turned into `DatabaseInputError` (422), whichever
 * code ran the query: each connection's `executeQuery` and `streamQuery` are wrapped once.
 */
export function withInputErrors(dialect: Dialect): Dialect {
  return withPatchedConnections(dialect, wrapConnection)
}

function translate(error: unknown): never {
  throw toDatabaseInputError(error) ?? error
}

function wrapConnection(connection: DatabaseConnection): void {
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
