import type { CompanionWrite, DatabaseEngine } from '@mortar/core'
import {
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
// `insert into <table> (<columns>) values ` as each engine quotes it, compiled once: a call
// then builds and compiles only its rows' value lists.
const heads = new Map<DatabaseEngine, string>()

/**
 * A row's values as one node that compiles to `($1, $2, …)`, cheaper to build and compile than
 * a node per value (what `sql` makes of each interpolation).
 */
function values(row: DeliveryRow, keyed: boolean): PrimitiveValueListNode {
  const list: unknown[] = [
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
  ]
  if (keyed) list.push(row.idempotency_key)
  return PrimitiveValueListNode.create(list)
}

/**
 * The INSERT of new deliveries with fresh ids and no idempotency key: nothing to skip, so a
 * clash fails loudly; for core's jobs to send with the deliveries' jobs (`alongside`), or alone.
 * `db` is the transaction-aware Kysely: it runs in the caller's transaction.
 */
export function deliveryInsertion(
  db: Kysely<unknown>,
  engine: DatabaseEngine,
  rows: readonly DeliveryRow[],
): CompanionWrite {
  let head = heads.get(engine)
  if (head === undefined) {
    head = sql`insert into ${table} (${columns}) values `.compile(db).sql
    heads.set(engine, head)
  }
  const node = RawNode.create(
    [head, ...rows.slice(1).map(() => ', '), ''],
    rows.map((row) => values(row, false)),
  )
  return new DeliveryInsertion(db, node)
}

// A class, not an object of arrow functions: notify() makes one a call, and the build names
// each closure it makes at run time (a property definition apiece).
class DeliveryInsertion implements CompanionWrite {
  readonly #db: Kysely<unknown>
  readonly #node: RawNode

  constructor(db: Kysely<unknown>, node: RawNode) {
    this.#db = db
    this.#node = node
  }

  toOperationNode(): RawNode {
    return this.#node
  }

  execute(): Promise<unknown> {
    return sql`${this}`.execute(this.#db)
  }
}

/**
 * The INSERT of new deliveries that skips each one whose (recipient, channel, key) is taken,
 * without an error that would abort the caller's transaction on PostgreSQL; PostgreSQL and
 * SQLite return the ids written. MySQL/MariaDB get a no-op `ON DUPLICATE KEY UPDATE` rather than
 * `INSERT IGNORE`, which would also turn truncation and other errors into warnings.
 */
export function keyedDeliveryInsert(
  engine: DatabaseEngine,
  rows: readonly DeliveryRow[],
): RawBuilder<{ id: string }> {
  const lists = rows.map((row): OperationNodeSource => {
    const node = values(row, true)
    return { toOperationNode: () => node }
  })
  const insert = sql`insert into ${table} (${keyedColumns}) values ${sql.join(lists)}`
  return engine === 'mysql'
    ? sql`${insert} on duplicate key update ${sql.id('id')} = ${sql.id('id')}`
    : sql`${insert} on conflict do nothing returning ${sql.id('id')}`
}
