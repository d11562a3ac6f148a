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
  /** The row count of each statement of the query, the COPY's first. */
  readonly rowCounts: readonly number[]
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
  readonly #rowCounts: number[] = []

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
    // The rows follow the query at once instead of after PostgreSQL's CopyInResponse: waiting
    // for it cost a round trip, and whatever held the event loop meanwhile (the next batch's
    // preparation) delayed the rows and the server with them. When the COPY fails before it
    // reads them, PostgreSQL drops CopyData and CopyDone messages that arrive outside a COPY
    // (the protocol says so, and postgres.c's main loop ignores them).
    for (let start = 0; start < this.#data.length; start += CHUNK_BYTES) {
      connection.sendCopyFromChunk(this.#data.subarray(start, start + CHUNK_BYTES))
    }
    connection.endCopyFrom()
  }

  handleCopyInResponse(): void {}

  handleCommandComplete(message: { text?: string }): void {
    // Each statement's tag ends with its row count ("COPY 3", "INSERT 0 1", "DELETE 2").
    this.#rowCounts.push(Number(message.text?.split(' ').at(-1) ?? 0) || 0)
  }

  handleReadyForQuery(): void {
    if (!this.#failed) {
      const rowCounts = this.#rowCounts
      this.#resolve({ command: 'COPY', rowCount: rowCounts[0] ?? 0, rows: [], rowCounts })
    }
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
 * transaction when `db` is one). `then`, statements without parameters, run after the COPY in
 * the same query: outside a transaction all run as one implicit transaction (PostgreSQL's rule
 * for a multi-statement query), in one round trip. Returns the row count PostgreSQL reports for
 * each statement, the COPY's first.
 */
export async function copyInto(
  db: Kysely<unknown>,
  table: string,
  columns: readonly string[],
  data: Buffer,
  then?: string,
): Promise<readonly number[]> {
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
  return (await copy).rowCounts
}

/**
 * Rows in COPY's text format, written straight into bytes: each value is escaped (backslash,
 * tab, newline, carriage return) and UTF-8 encoded in one pass, with no string per row or value
 * and no regular expression, which were most of a batch's client time on the COPY path. Each
 * value is followed by a tab; {@link CopyRows.end} turns the last one into the row's newline.
 */
export class CopyRows {
  #bytes: Buffer
  #length = 0

  /** `expectedBytes`: a guess at the total; the buffer grows past it. */
  constructor(expectedBytes: number) {
    this.#bytes = Buffer.allocUnsafe(Math.max(1_024, expectedBytes))
  }

  /** A text value, or `\N` for null. */
  text(value: string | null): void {
    if (value === null) {
      this.#room(3)
      this.#ascii(0x5c)
      this.#ascii(0x4e)
      this.#ascii(0x09)
      return
    }
    // Each UTF-16 unit takes at most 3 bytes: an escape 2, a pair 4 for 2 units.
    this.#room(value.length * 3 + 1)
    const bytes = this.#bytes
    let at = this.#length
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i)
      if (c < 0x80) {
        const escaped =
          c === 0x5c ? 0x5c : c === 0x09 ? 0x74 : c === 0x0a ? 0x6e : c === 0x0d ? 0x72 : 0
        if (escaped === 0) {
          bytes[at++] = c
        } else {
          bytes[at++] = 0x5c
          bytes[at++] = escaped
        }
      } else if (c < 0x800) {
        bytes[at++] = 0xc0 | (c >> 6)
        bytes[at++] = 0x80 | (c & 0x3f)
      } else {
        let point = c
        if (c >= 0xd800 && c <= 0xdfff) {
          const next = i + 1 < value.length ? value.charCodeAt(i + 1) : 0
          if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
            point = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
            i++
          } else {
            // Unpaired (the tracker refuses them before): U+FFFD, as Buffer.from writes it.
            point = 0xfffd
          }
        }
        if (point >= 0x10000) {
          bytes[at++] = 0xf0 | (point >> 18)
          bytes[at++] = 0x80 | ((point >> 12) & 0x3f)
        } else {
          bytes[at++] = 0xe0 | (point >> 12)
        }
        bytes[at++] = 0x80 | ((point >> 6) & 0x3f)
        bytes[at++] = 0x80 | (point & 0x3f)
      }
    }
    bytes[at++] = 0x09
    this.#length = at
  }

  /** An integer value (a safe integer: a time, a batch id). */
  integer(value: number): void {
    if (!Number.isSafeInteger(value)) throw new TypeError(`Not an integer: ${value}`)
    this.#room(18)
    if (value < 0) this.#ascii(0x2d)
    const magnitude = Math.abs(value)
    // In 32-bit integer arithmetic: a time in milliseconds is past 2^31, and a double's `%` and
    // division were most of a row's encoding. The high part of a safe integer is under 2^27.
    if (magnitude < 100_000_000) {
      this.#digits(magnitude, 0)
    } else {
      const high = Math.floor(magnitude / 100_000_000)
      this.#digits(high, 0)
      this.#digits(magnitude - high * 100_000_000, 8)
    }
    this.#ascii(0x09)
  }

  /** `value` (under 10^8) in decimal, left-padded with zeros to `width` digits. */
  #digits(value: number, width: number): void {
    let rest = value | 0
    let count = 1
    for (let power = 10; power <= rest; power *= 10) count++
    if (count < width) count = width
    const bytes = this.#bytes
    let at = this.#length + count
    this.#length = at
    for (let i = 0; i < count; i++) {
      const next = (rest / 10) | 0
      bytes[--at] = 0x30 + rest - next * 10
      rest = next
    }
  }

  /** Ends the row. */
  end(): void {
    this.#bytes[this.#length - 1] = 0x0a
  }

  /** The rows written. */
  finish(): Buffer {
    return this.#bytes.subarray(0, this.#length)
  }

  #ascii(byte: number): void {
    this.#bytes[this.#length++] = byte
  }

  #room(bytes: number): void {
    const needed = this.#length + bytes
    if (needed <= this.#bytes.length) return
    const grown = Buffer.allocUnsafe(Math.max(needed, this.#bytes.length * 2))
    this.#bytes.copy(grown, 0, 0, this.#length)
    this.#bytes = grown
  }
}
