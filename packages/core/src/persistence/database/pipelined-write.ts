import type {
  CompiledQuery,
  DatabaseConnection,
  Dialect,
  Kysely,
  QueryResult,
  RawBuilder,
} from 'kysely'
import { processGlobal } from '../../global/index.js'
import { withPatchedConnections } from './connection-patching.js'

// Compiled queries to send without waiting for their answer. Process-wide so the ESM and the
// CJS build of core (both may be loaded) recognise each other's marks.
const pipelined = processGlobal('mortar.pipelinedWrites', () => new WeakSet<CompiledQuery>())
// Their parameter arrays, as node-postgres' client receives them (see coalescingClient).
const pipelinedValues = processGlobal(
  'mortar.pipelinedValues',
  () => new WeakSet<readonly unknown[]>(),
)
// The names pipelined writes are prepared under, by SQL text (see coalescingClient). A write of
// a new shape past the limit goes unnamed, parsed each time like any other statement: each
// name costs every connection a plan kept until it closes.
const statementNames = processGlobal('mortar.pipelinedStatements', () => new Map<string, string>())
const MAX_STATEMENT_NAMES = 256

/**
 * Sends `query` on the connection of `trx`, an open transaction, without waiting for its answer,
 * on PostgreSQL (elsewhere it is awaited like any statement): it returns once the write is on
 * its way, and node-postgres, in pipeline mode, sends the transaction's next statement (its
 * `COMMIT` at the latest) right behind it, in the same round trip. The server runs them in
 * order, so the next statement sees the write; that statement's call also waits for the write's
 * answer, and a failed write fails it with the write's own error. PostgreSQL aborts a
 * transaction whose statement failed, so nothing of it can commit without the write. A
 * `ROLLBACK` (or `ROLLBACK TO SAVEPOINT`) behind the write discards its answer with it.
 * For writes whose result the caller does not need: the returned promise carries none.
 */
export async function pipelineWrite(
  trx: Kysely<unknown>,
  query: RawBuilder<unknown>,
): Promise<void> {
  const compiled = query.compile(trx)
  // A value the driver might fail to serialize would fail on our side only, after the COMMIT
  // behind it went out: such a write is awaited like any other.
  if (compiled.parameters.every(isPlain)) {
    pipelined.add(compiled)
    if (compiled.parameters.length > 0) pipelinedValues.add(compiled.parameters)
  }
  await trx.executeQuery(compiled)
}

/** What {@link coalescingClient} needs of node-postgres' `Client`. */
interface PgClient {
  query(...args: unknown[]): unknown
  readonly connection?: { readonly stream?: { cork?(): void; uncork?(): void } }
}

/**
 * node-postgres' `Client` whose pipelined writes wait in the socket's buffer for the statement
 * sent behind them (or the next turn of the event loop, whichever comes first): the write and
 * the `COMMIT` leave in one system call and reach the server together. Each is a prepared
 * statement, named after its SQL text: its shapes are few (the SQL queue's job INSERT and what
 * rides with it), and the server then parses and plans each once per connection instead of on
 * every transaction. (A pooler that does not keep a session's prepared statements, such as
 * PgBouncer in transaction mode before 1.21, cannot sit between.)
 */
// biome-ignore lint/suspicious/noExplicitAny: a mixin's base must take any[] (TypeScript's rule)
export function coalescingClient<C extends new (...args: any[]) => PgClient>(Client: C): C {
  return class CoalescingClient extends Client {
    #flush: NodeJS.Immediate | undefined

    override query(...args: unknown[]): unknown {
      const values = args[1]
      const stream = this.connection?.stream
      if (Array.isArray(values) && pipelinedValues.has(values) && stream?.cork) {
        if (this.#flush === undefined) {
          stream.cork()
          this.#flush = setImmediate(() => this.#uncork())
        }
        const name = typeof args[0] === 'string' ? statementName(args[0]) : undefined
        if (name === undefined) return super.query(...args)
        return super.query({ name, text: args[0], values }, ...args.slice(2))
      }
      const result = super.query(...args)
      if (this.#flush !== undefined) this.#uncork()
      return result
    }

    #uncork(): void {
      clearImmediate(this.#flush)
      this.#flush = undefined
      this.connection?.stream?.uncork?.()
    }
  }
}

function statementName(text: string): string | undefined {
  let name = statementNames.get(text)
  if (name === undefined && statementNames.size < MAX_STATEMENT_NAMES) {
    name = `mortar_write_${statementNames.size + 1}`
    statementNames.set(text, name)
  }
  return name
}

function isPlain(value: unknown): boolean {
  const type = typeof value
  return (
    value === null ||
    type === 'string' ||
    type === 'boolean' ||
    type === 'bigint' ||
    (type === 'number' && Number.isFinite(value))
  )
}

/** The dialect whose connections send the writes of {@link pipelineWrite} without waiting. */
export function withPipelinedWrites(dialect: Dialect): Dialect {
  return withPatchedConnections(dialect, wrapConnection)
}

const ROLLBACK = /^\s*rollback\b/i

function wrapConnection(connection: DatabaseConnection): void {
  const execute = connection.executeQuery.bind(connection)
  // Writes sent and not yet answered to anyone: at most those since the last statement.
  let inFlight: Promise<unknown>[] = []
  connection.executeQuery = <R>(
    ...args: Parameters<DatabaseConnection['executeQuery']>
  ): Promise<QueryResult<R>> => {
    const [compiled] = args
    if (pipelined.has(compiled)) {
      // Called now, not after an await: the driver queues (or, pipelining, sends) the write
      // before whatever statement the transaction sends next.
      const sent = execute(...args)
      sent.catch(() => undefined)
      inFlight.push(sent)
      return Promise.resolve({ rows: [] })
    }
    if (inFlight.length === 0) return execute<R>(...args)
    const writes = inFlight
    inFlight = []
    const result = execute<R>(...args)
    if (ROLLBACK.test(compiled.sql)) {
      // Rolled back with the transaction or savepoint they were sent in.
      return Promise.allSettled(writes).then(() => result)
    }
    result.catch(() => undefined)
    // The writes were answered first; the first that failed is why this statement failed too.
    return Promise.all(writes).then(() => result)
  }
}
