import type { CompanionWrite, DatabaseEngine } from '@mortar/core'
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { DELIVERY_TABLE, type DeliveryRow } from './delivery-table.js'

// What a new delivery sets. The rest starts empty: provider_message_id, sent_at, and the key of
// a notification without one are NULL; attempts and possible_duplicates are the literal 0. So the
// statement's text is the same for every call with as many deliveries, and PostgreSQL keeps one
// prepared plan of it (see core's pipelineWrite).
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
] as const
const ZEROS = ['attempts', 'possible_duplicates'] as const
const table = sql.table(DELIVERY_TABLE)
const columns = sql.join([...SET, ...ZEROS].map((column) => sql.id(column)))
const keyedColumns = sql.join([...SET, 'idempotency_key', ...ZEROS].map((column) => sql.id(column)))

function values(row: DeliveryRow, keyed: boolean): RawBuilder<unknown> {
  const set = sql`${row.id}, ${row.notification_id}, ${row.type}, ${row.category}, ${row.recipient_id}, ${row.channel}, ${row.address}, ${row.message}, ${row.status}, ${row.last_error}, ${row.run_at}, ${row.created_at}, ${row.updated_at}`
  return keyed ? sql`(${set}, ${row.idempotency_key}, 0, 0)` : sql`(${set}, 0, 0)`
}

/**
 * The INSERT of new deliveries with fresh ids and no idempotency key: nothing to skip, so a
 * clash fails loudly; for core's jobs to send with the deliveries' jobs (`alongside`), or alone.
 * `db` is the transaction-aware Kysely: it runs in the caller's transaction.
 */
export function deliveryInsertion(
  db: Kysely<unknown>,
  rows: readonly DeliveryRow[],
): CompanionWrite {
  const insert = sql`insert into ${table} (${columns}) values ${sql.join(rows.map((row) => values(row, false)))}`
  return { toOperationNode: () => insert.toOperationNode(), execute: () => insert.execute(db) }
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
  const insert = sql`insert into ${table} (${keyedColumns}) values ${sql.join(rows.map((row) => values(row, true)))}`
  return engine === 'mysql'
    ? sql`${insert} on duplicate key update ${sql.id('id')} = ${sql.id('id')}`
    : sql`${insert} on conflict do nothing returning ${sql.id('id')}`
}
