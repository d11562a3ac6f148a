import type { CompanionWrite, DatabaseEngine } from '@mortar/core'
import {
  type CompiledQuery,
  createQueryId,
  type Kysely,
  type OperationNodeSource,
  PrimitiveValueListNode,
  type RawBuilder,
  RawNode,
  sql,
} from 'kysely'
import { DELIVERY_TABLE, type DeliveryRow } from './delivery-table.js'

// What a new delivery sets; the rest starts NULL (provider_message_id, sent_at, and the key of a
// notification without one). The statement's text is the same for every call with as many
// deliveries, so PostgreSQL keeps one prepared plan of it (see core's pipelineWrite).
const SET = [
  'id',
  'notification_id',
  'type',
  'category',
  'recipient_id',
  'channel',
  'address',
  'message',
  'status',
  'last_error',
  'run_at',
  'created_at',
  'updated_at',
  'attempts',
  'possible_duplicates',
  'quiet_hours',
] as const
const table = sql.table(DELIVERY_TABLE)
const columns = sql.join(SET.map((column) => sql.id(column)))
const keyedColumns = sql.join([...SET, 'idempotency_key'].map((column) => sql.id(column)))
// The texts of inserts of up to this many rows are kept, per compiling Kysely and number of rows.
const KEPT_TEXTS = 64

interface InsertText {
  readonly sql: string
  readonly query: RawNode
}

// Keyed by the Kysely that compiles the text, not by its engine: its plugins are part of the text
// (a WithSchemaPlugin names the table's schema), and two databases of one engine in a process
// may have different ones.
const texts = new WeakMap<Kysely<unknown>, InsertText[]>()
// The keyed INSERT's texts (see keyedDeliveryInsert), kept the same way.
const keyedTexts = new WeakMap<Kysely<unknown>, InsertText[]>()

/** A new delivery's values, in SET's order, pushed onto `list`. */
function pushValues(list: unknown[], row: DeliveryRow): void {
  list.push(
    row.id,
    row.notification_id,
    row.type,
    row.category,
    row.recipient_id,
    row.channel,
    row.address,
    row.message,
    row.status,
    row.last_error,
    row.run_at,
    row.created_at,
    row.updated_at,
    row.attempts,
    row.possible_duplicates,
    row.quiet_hours,
  )
}

/**
 * A row's values as one node that compiles to `($1, $2, …)`, cheaper to build and compile than
 * a node per value (what `sql` makes of each interpolation). A class, not an object with an
 * arrow function: the build names each closure it makes at run time (a property definition
 * apiece).
 */
class ValueList implements OperationNodeSource {
  readonly #node: PrimitiveValueListNode

  constructor(row: DeliveryRow, keyed: boolean) {
    const list: unknown[] = []
    pushValues(list, row)
    if (keyed) list.push(row.idempotency_key)
    this.#node = PrimitiveValueListNode.create(list)
  }

  toOperationNode(): PrimitiveValueListNode {
    return this.#node
  }
}

/** The INSERT of `rows` as a node, its values in it. */
function insertNode(rows: readonly DeliveryRow[]): RawBuilder<unknown> {
  return sql`insert into ${table} (${columns}) values ${sql.join(rows.map((row) => new ValueList(row, false)))}`
}

/**
 * The text of `node(rows)` by `compiler`, compiled once for as many rows and kept in `kept`: a
 * call then only lists its values, and hands the database the same string each time (which
 * core's jobs send with theirs, see {@link CompanionWrite}, and PostgreSQL keeps prepared).
 */
function insertText(
  kept: WeakMap<Kysely<unknown>, InsertText[]>,
  compiler: Kysely<unknown>,
  rows: readonly DeliveryRow[],
  node: (rows: readonly DeliveryRow[]) => RawBuilder<unknown>,
): InsertText {
  const found = kept.get(compiler)?.[rows.length]
  if (found !== undefined) return found
  const text = node(rows).compile(compiler).sql
  const made: InsertText = { sql: text, query: RawNode.createWithSql(text) }
  if (rows.length <= KEPT_TEXTS) {
    let byCount = kept.get(compiler)
    if (byCount === undefined) {
      byCount = []
      kept.set(compiler, byCount)
    }
    byCount[rows.length] = made
  }
  return made
}

/**
 * The INSERT of new deliveries with fresh ids and no idempotency key: nothing to skip, so a
 * clash fails loudly; for core's jobs to send with the deliveries' jobs (`alongside`), or alone.
 * `db` is the transaction-aware Kysely: it runs in the caller's transaction. `compiler` has the
 * same dialect and plugins and outlives transactions (the database's root, which adding a
 * plugin replaces): the text is kept for it.
 */
export function deliveryInsertion(
  db: Kysely<unknown>,
  compiler: Kysely<unknown>,
  rows: readonly DeliveryRow[],
): CompanionWrite {
  return new DeliveryInsertion(db, insertText(texts, compiler, rows, insertNode), rows)
}

// A class, not an object of arrow functions: notify() makes one a call, and the build names
// each closure it makes at run time (a property definition apiece).
class DeliveryInsertion implements CompanionWrite {
  readonly #db: Kysely<unknown>
  readonly #text: InsertText
  readonly #rows: readonly DeliveryRow[]

  constructor(db: Kysely<unknown>, text: InsertText, rows: readonly DeliveryRow[]) {
    this.#db = db
    this.#text = text
    this.#rows = rows
  }

  toOperationNode(): RawNode {
    return insertNode(this.#rows).toOperationNode()
  }

  /** The kept text and the rows' values in its order: no query compiler. */
  compile(): CompiledQuery {
    const parameters: unknown[] = []
    for (const row of this.#rows) pushValues(parameters, row)
    return {
      sql: this.#text.sql,
      query: this.#text.query,
      parameters,
      queryId: createQueryId(),
    }
  }

  execute(): Promise<unknown> {
    return this.#db.executeQuery(this.compile())
  }
}

/**
 * The INSERT of new deliveries that skips each one whose (recipient, channel, key) is taken,
 * without an error that would abort the caller's transaction on PostgreSQL; PostgreSQL and
 * SQLite return the ids written. MySQL/MariaDB get a no-op `ON DUPLICATE KEY UPDATE` rather than
 * `INSERT IGNORE`, which would also turn truncation and other errors into warnings. Its text is
 * kept per `compiler` (as for {@link deliveryInsertion}) and number of rows, so a call only lists
 * its values, and the text is one that PostgreSQL can keep prepared (see core's
 * `executePrepared`): parsed and planned on every keyed notify(), it cost the server more than
 * the rows it writes.
 */
export function keyedDeliveryInsert(
  engine: DatabaseEngine,
  compiler: Kysely<unknown>,
  rows: readonly DeliveryRow[],
): KeyedDeliveryInsert {
  const text = insertText(keyedTexts, compiler, rows, (some) => keyedNode(engine, some))
  return new KeyedDeliveryInsert(engine, text, rows)
}

/** The keyed INSERT of `rows` as a node, its values in it. */
function keyedNode(engine: DatabaseEngine, rows: readonly DeliveryRow[]): RawBuilder<unknown> {
  const lists = rows.map((row) => new ValueList(row, true))
  const insert = sql`insert into ${table} (${keyedColumns}) values ${sql.join(lists)}`
  return engine === 'mysql'
    ? sql`${insert} on duplicate key update ${sql.id('id')} = ${sql.id('id')}`
    : sql`${insert} on conflict do nothing returning ${sql.id('id')}`
}

/** See {@link keyedDeliveryInsert}. */
export class KeyedDeliveryInsert implements OperationNodeSource {
  readonly #engine: DatabaseEngine
  readonly #text: InsertText
  readonly #rows: readonly DeliveryRow[]

  constructor(engine: DatabaseEngine, text: InsertText, rows: readonly DeliveryRow[]) {
    this.#engine = engine
    this.#text = text
    this.#rows = rows
  }

  toOperationNode(): RawNode {
    return keyedNode(this.#engine, this.#rows).toOperationNode()
  }

  /** The kept text and the rows' values in its order: no query compiler. */
  compile(): CompiledQuery<{ id: string }> {
    const parameters: unknown[] = []
    for (const row of this.#rows) {
      pushValues(parameters, row)
      parameters.push(row.idempotency_key)
    }
    return {
      sql: this.#text.sql,
      query: this.#text.query,
      parameters,
      queryId: createQueryId(),
    }
  }
}
