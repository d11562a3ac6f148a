import type {
  Compilable,
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
// Parameter arrays of statements to run prepared (see executePrepared).
const preparedValues = processGlobal(
  'mortar.preparedValues',
  () => new WeakSet<readonly unknown[]>(),
)
// The names pipelined writes and prepared statements are prepared under, by SQL text (see
// coalescingClient). A statement of a new text past the limit goes unnamed, parsed each time like
// any other: each name costs every connection a plan kept until it closes.
const statementNames = processGlobal('mortar.pipelinedStatements', () => new Map<string, string>())
const MAX_STATEMENT_NAMES = 256

/**
 * Sends `query` on the connection of `trx`, an open transaction, without waiting for its answer,
 * on PostgreSQL (elsewhere it is awaited like any statement): it returns at once, and the write
 * leaves with the transaction's next statement (its `COMMIT` at the latest), in the same round
 * trip (see coalescingClient). The server runs them in order, so the next statement sees the
 * write; that statement's call also waits for the write's answer, and a failed write fails it
 * with the write's own error. PostgreSQL aborts a transaction whose statement failed, so nothing
 * of it can commit without the write. A `ROLLBACK` (or `ROLLBACK TO SAVEPOINT`) behind the write
 * discards its answer with it.
 * For writes whose result the caller does not need: the returned promise carries none. `query`
 * may come compiled already (a statement of a fixed shape whose text the caller keeps).
 */
export async function pipelineWrite(
  trx: Kysely<unknown>,
  query: RawBuilder<unknown> | CompiledQuery,
): Promise<void> {
  const compiled = 'compile' in query ? query.compile(trx) : query
  // A value the driver might fail to serialize would fail on our side only, after the COMMIT
  // behind it went out: such a write is awaited like any other.
  if (compiled.parameters.every(isPlain)) {
    pipelined.add(compiled)
    if (compiled.parameters.length > 0) pipelinedValues.add(compiled.parameters)
  }
  await trx.executeQuery(compiled)
}

/**
 * Runs `query` on `db` as a prepared statement on PostgreSQL: named after its SQL text, it is
 * parsed once per connection, and its plan kept once the server finds a generic one as good,
 * instead of both on every call (a read with a join planned per call cost the server 0.35 ms,
 * prepared 0.15). For statements of one fixed text run often: a batch of ids as one array
 * parameter, not a list whose length changes the text. Select named columns, not `*`: the
 * server refuses a kept plan whose result columns a migration changed. Elsewhere it runs as
 * `execute` does.
 *
 * @example
 * ```ts
 * import { Database, executePrepared } from '@mortar/core'
 * import { sql } from 'kysely'
 *
 * const database = new Database('postgres://app@localhost/app')
 * const ids = ['a', 'b']
 * const { rows } = await executePrepared(
 *   database.root,
 *   sql<{ id: string }>`select id from product where id = any(${ids}::text[])`,
 * )
 * ```
 */
export function executePrepared<R>(
  db: Kysely<unknown>,
  query: Compilable<R> | RawBuilder<R>,
): Promise<QueryResult<R>> {
  const compiled = 'isRawBuilder' in query ? query.compile(db) : query.compile()
  preparedValues.add(compiled.parameters)
  return db.executeQuery(compiled)
}

/** What {@link coalescingClient} needs of node-postgres' `Connection`: its protocol messages. */
interface PgConnection {
  readonly stream?: { cork?(): void; uncork?(): void }
  readonly parsedStatements?: Record<string, string | undefined>
  bind(config: {
    statement?: string
    values?: readonly unknown[]
    valueMapper?: (value: unknown) => string | null
  }): void
  execute(config: object): void
  parse(config: { text: string }): void
  sync(): void
}

/** What {@link coalescingClient} needs of node-postgres' `Client`. */
interface PgClient {
  query(...args: unknown[]): unknown
  readonly connection?: object
}
/**
 * node-postgres' `Query` class, as `Client.Query` holds it. Made from the text, not a config
 * object: node-postgres copies a config object through its property descriptors, about 2 µs a
 * statement, where a text costs 0.1.
 */
type PgQueryClass = new (
  text: string,
  values: readonly unknown[] | undefined,
  callback: (error: Error | null, results?: unknown) => void,
) => { name?: string; submit(connection: PgConnection): Error | null }

/** A pipelined write held back for the statement behind it, with its caller's promise. */
interface HeldWrite {
  readonly name: string
  readonly text: string
  readonly values: readonly unknown[]
  readonly resolve: (result: unknown) => void
  readonly reject: (error: Error) => void
}

// A function of the module, not a closure made per write: the build names each closure it
// makes at run time (a property definition apiece), a cost on every transaction that enqueues.
function settle(write: HeldWrite, error: Error | null, result?: unknown): void {
  if (error === null) write.resolve(result)
  else write.reject(error)
}

/**
 * node-postgres' `Client` whose pipelined writes wait for the statement sent behind them (or
 * the next turn of the event loop, whichever comes first) and leave with it in one system call.
 * Each is a prepared statement, named after its SQL text: its shapes are few (the SQL queue's
 * job INSERT and what rides with it), and the server then parses and plans each once per
 * connection instead of on every transaction. (A pooler that does not keep a session's
 * prepared statements, such as PgBouncer in transaction mode before 1.21, cannot sit between.)
 * A write already prepared on the connection and followed by the transaction's `COMMIT` goes
 * out with it as one unit of the extended protocol, under one `Sync`: the server answers both
 * at once (one reply to send, one for the client to read), and skips the `COMMIT` if the write
 * failed, as it would the next statement of a failed transaction.
 */
// biome-ignore lint/suspicious/noExplicitAny: a mixin's base must take any[] (TypeScript's rule)
export function coalescingClient<C extends new (...args: any[]) => PgClient>(Client: C): C {
  const Query = (Client as { readonly Query?: PgQueryClass }).Query
  const WriteAndCommit = Query === undefined ? undefined : writeAndCommit(Query)
  return class CoalescingClient extends Client {
    #flush: NodeJS.Immediate | undefined
    #held: HeldWrite[] = []

    override query(...args: unknown[]): unknown {
      const [text, values] = args
      const connection = this.connection as PgConnection | undefined
      if (Array.isArray(values) && pipelinedValues.has(values) && connection?.stream?.cork) {
        const name = typeof text === 'string' ? statementName(text) : undefined
        this.#scheduleFlush()
        const prepared = name !== undefined && connection.parsedStatements?.[name] === text
        if (prepared && WriteAndCommit !== undefined && this.#held.length < HELD_WRITES) {
          return new Promise((resolve, reject) => {
            this.#held.push({ name: name as string, text: text as string, values, resolve, reject })
          })
        }
        this.#sendHeld()
        if (name === undefined) return super.query(...args)
        return this.#named(name, text as string, values, args)
      }
      if (this.#held.length > 0) {
        if (WriteAndCommit !== undefined && isCommit(text, values) && args.length === 2) {
          const held = this.#held
          this.#held = []
          return new Promise((resolve, reject) => {
            super.query(
              new WriteAndCommit(held, (error, results) => {
                if (error !== null) {
                  for (const write of held) settle(write, error)
                  reject(error)
                  return
                }
                // One result per statement: the writes', then the COMMIT's.
                const each = Array.isArray(results) ? results : [results]
                for (const [index, write] of held.entries()) settle(write, null, each[index])
                resolve(each[each.length - 1])
              }),
            )
            if (this.#flush !== undefined) this.#uncork()
          })
        }
        this.#sendHeld()
      }
      const name =
        Array.isArray(values) && preparedValues.has(values) && typeof text === 'string'
          ? statementName(text)
          : undefined
      const result =
        name === undefined
          ? super.query(...args)
          : this.#named(name, text as string, values as readonly unknown[], args)
      if (this.#flush !== undefined) this.#uncork()
      return result
    }

    /** `super.query` of a prepared statement, called as the driver calls it (text, values). */
    #named(name: string, text: string, values: readonly unknown[], args: unknown[]): unknown {
      if (Query === undefined || args.length !== 2) {
        return super.query({ name, text, values }, ...args.slice(2))
      }
      return new Promise((resolve, reject) => {
        const query = new Query(text, values, (error, result) => {
          if (error === null) resolve(result)
          else reject(error)
        })
        query.name = name
        super.query(query)
      })
    }

    #scheduleFlush(): void {
      if (this.#flush !== undefined) return
      ;(this.connection as PgConnection | undefined)?.stream?.cork?.()
      this.#flush = setImmediate(() => {
        this.#sendHeld()
        this.#uncork()
      })
    }

    /** Sends the held writes each on its own, in order (the next statement is no COMMIT). */
    #sendHeld(): void {
      const held = this.#held
      this.#held = []
      for (const write of held) {
        const sent = this.#named(write.name, write.text, write.values, [write.text, write.values])
        ;(sent as Promise<unknown>).then(
          (result) => settle(write, null, result),
          (error: Error) => settle(write, error),
        )
      }
    }

    #uncork(): void {
      clearImmediate(this.#flush)
      this.#flush = undefined
      ;(this.connection as PgConnection | undefined)?.stream?.uncork?.()
    }
  }
}

// At most this many writes wait for one COMMIT; more are sent as they come.
const HELD_WRITES = 64
const COMMIT = 'commit'

function isCommit(text: unknown, values: unknown): boolean {
  return (
    typeof text === 'string' &&
    text.trim().toLowerCase() === COMMIT &&
    (values === undefined || (Array.isArray(values) && values.length === 0))
  )
}

/**
 * node-postgres' `Query` for held writes and the `COMMIT` behind them: each write's Bind and
 * Execute (its statement is prepared on the connection already), the `COMMIT`'s Parse, Bind and
 * Execute, one Sync. A `Query` subclass, not a bare submittable: node-postgres refuses custom
 * query classes in pipeline mode, as they may keep a portal open; this one keeps none.
 */
function writeAndCommit(Query: PgQueryClass) {
  return class WriteAndCommit extends Query {
    readonly #writes: readonly HeldWrite[]

    constructor(
      writes: readonly HeldWrite[],
      callback: (error: Error | null, results?: unknown) => void,
    ) {
      super(COMMIT, undefined, callback)
      this.#writes = writes
    }

    override submit(connection: PgConnection): Error | null {
      connection.stream?.cork?.()
      try {
        for (const write of this.#writes) {
          connection.bind({ statement: write.name, values: write.values, valueMapper: textValue })
          connection.execute({})
        }
        connection.parse({ text: COMMIT })
        connection.bind({})
        connection.execute({})
        connection.sync()
      } finally {
        connection.stream?.uncork?.()
      }
      return null
    }
  }
}

/** A plain value (see isPlain) as the text the server parses it from, as node-postgres sends it. */
function textValue(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value)
}

function statementName(text: string): string | undefined {
  let name = statementNames.get(text)
  if (name === undefined && statementNames.size < MAX_STATEMENT_NAMES) {
    name = `mortar_statement_${statementNames.size + 1}`
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
