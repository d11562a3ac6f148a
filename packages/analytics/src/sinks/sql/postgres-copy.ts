import { CompiledQuery, type Kysely, RawNode } from 'kysely'

/** The part of pg's `Connection` a COPY uses. */
interface PgWire {
  query(text: string): void
  sendCopyFromChunk(chunk: Buffer): void
  endCopyFrom(): void
}

interface CopyResult {
  readonly command: 'COPY'
  readonly rowCount: number
  readonly rows: readonly never[]
}

const CHUNK_BYTES = 256 * 1024

/**
 * A `COPY … FROM STDIN` as a pg "submittable": pg's client runs any object with a `submit`
 * method as a query and feeds it the protocol messages. Kysely's PostgreSQL connection hands
 * its query text straight to `client.query()`, so passing this object as the text runs the
 * COPY on the connection Kysely holds, inside its transaction, with no second pool. `submitted`
 * tells whether the driver took it (a driver other than pg would not).
 */
class CopyIn implements PromiseLike<CopyResult> {
  readonly text: string
  submitted = false
  readonly #data: Buffer
  readonly #done: Promise<CopyResult>
  #resolve!: (result: CopyResult) => void
  #reject!: (error: unknown) => void
  #failed = false
  #rowCount = 0

  constructor(text: string, data: Buffer) {
    this.text = text
    this.#data = data
    this.#done = new Promise<CopyResult>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  submit(connection: PgWire): void {
    this.submitted = true
    connection.query(this.text)
  }

  handleCopyInResponse(connection: PgWire): void {
    for (let start = 0; start < this.#data.length; start += CHUNK_BYTES) {
      connection.sendCopyFromChunk(this.#data.subarray(start, start + CHUNK_BYTES))
    }
    connection.endCopyFrom()
  }

  handleCommandComplete(message: { text?: string }): void {
    // A statement after the COPY in the same query reports its own tag: keep the COPY's.
    if (message.text?.startsWith('COPY ')) this.#rowCount = Number(message.text.slice(5))
  }

  handleReadyForQuery(): void {
    if (!this.#failed) this.#resolve({ command: 'COPY', rowCount: this.#rowCount, rows: [] })
  }

  handleError(error: unknown): void {
    // Settle now: when the connection died, no ReadyForQuery follows.
    this.#failed = true
    this.#reject(error)
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  // biome-ignore lint/suspicious/noThenProperty: awaited by Kysely as pg's query result
  then<A = CopyResult, B = never>(
    onfulfilled?: ((value: CopyResult) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): PromiseLike<A | B> {
    return this.#done.then(onfulfilled, onrejected)
  }
}

/** The driver did not run the COPY object (not pg, or a Kysely that stringifies query text). */
export class CopyUnsupportedError extends Error {}

type PgClass = abstract new (...args: never[]) => object

let derived: Promise<void> | undefined

/**
 * Makes CopyIn a kind of pg's `Query`, once. pg in pipeline mode (core turns it on) refuses
 * query objects of other classes, because a cursor's open portal would take the answers of the
 * queries pipelined behind it. A COPY keeps no portal, and it runs on a connection this module
 * holds alone, awaiting each statement, so nothing is pipelined behind it.
 */
function deriveFromPgQuery(): Promise<void> {
  derived ??= import('pg').then(
    (pg) => {
      const loaded = pg as unknown as { Query?: PgClass; default?: { Query: PgClass } }
      const query = loaded.default?.Query ?? loaded.Query
      if (query !== undefined) Object.setPrototypeOf(CopyIn.prototype, query.prototype)
    },
    // Without pg the driver is another one, and it does not run the COPY object either.
    () => undefined,
  )
  return derived
}

/**
 * Streams `data` (COPY text format) into `table`'s `columns` on `db`'s connection (inside its
 * transaction when `db` is one). Returns the row count PostgreSQL reports. `then`, a statement
 * without parameters, runs after the COPY in the same query: outside a transaction both run as
 * one implicit transaction (PostgreSQL's rule for a multi-statement query), in one round trip.
 */
export async function copyInto(
  db: Kysely<unknown>,
  table: string,
  columns: readonly string[],
  data: Buffer,
  then?: string,
): Promise<number> {
  const text = `copy ${table} (${columns.join(', ')}) from stdin`
  await deriveFromPgQuery()
  const copy = new CopyIn(then === undefined ? text : `${text}; ${then}`, data)
  const query = CompiledQuery.raw('')
  const compiled: CompiledQuery = {
    ...query,
    sql: copy as unknown as string,
    query: RawNode.createWithSql('copy'),
  }
  try {
    await db.getExecutor().provideConnection((connection) => connection.executeQuery(compiled))
  } catch (error) {
    if (!copy.submitted)
      throw new CopyUnsupportedError('COPY was not run by the driver', { cause: error })
    throw error
  }
  if (!copy.submitted) throw new CopyUnsupportedError('COPY was not run by the driver')
  return (await copy).rowCount
}

const NEEDS_ESCAPE = /[\\\t\n\r]/
const ESCAPES = /[\\\t\n\r]/g
const ESCAPED: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
}

/** One value in COPY's text format: `\N` for null, backslash escapes for the four specials. */
export function copyText(value: string | number | null): string {
  if (value === null) return '\\N'
  if (typeof value === 'number') return String(value)
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPES, (c) => ESCAPED[c] as string) : value
}
