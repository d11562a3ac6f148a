import type { Migration } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import { idColumn, sqlEngine } from '../sql/index.js'

export const THROTTLE_TABLE = 'mortar_notify_throttle'

interface ThrottleRow {
  recipient_id: string
  category: string
  channel: string
  window_start: number | string | bigint
  count: number
}

interface ThrottleTables {
  mortar_notify_throttle: ThrottleRow
}

/**
 * Counts deliveries per recipient, category and channel in fixed windows, one row per window,
 * incremented atomically (an upsert), so concurrent `notify()` calls never both slip under the
 * limit. Returns the count including this one. Runs in the caller's transaction.
 */
export async function countDelivery(
  db: Kysely<unknown>,
  key: { readonly recipientId: string; readonly category: string; readonly channel: string },
  windowStart: number,
): Promise<number> {
  const typed = db as Kysely<ThrottleTables>
  const row = {
    recipient_id: key.recipientId,
    category: key.category,
    channel: key.channel,
    window_start: windowStart,
    count: 1,
  }
  const insert = typed.insertInto(THROTTLE_TABLE).values(row)
  if (sqlEngine(db) === 'mysql') {
    // Two statements: in one transaction, so the read sees our increment and no one else's.
    if (!typed.isTransaction)
      return typed
        .transaction()
        .execute((trx) => countDelivery(trx as unknown as Kysely<unknown>, key, windowStart))
    await insert.onDuplicateKeyUpdate({ count: sql<number>`count + 1` }).execute()
    // The upsert holds the row's lock until commit: this read sees our own increment.
    const counted = await typed
      .selectFrom(THROTTLE_TABLE)
      .select('count')
      .where('recipient_id', '=', key.recipientId)
      .where('category', '=', key.category)
      .where('channel', '=', key.channel)
      .where('window_start', '=', windowStart)
      .forUpdate()
      .executeTakeFirstOrThrow()
    return Number(counted.count)
  }
  const counted = await insert
    .onConflict((conflict) =>
      conflict
        .columns(['recipient_id', 'category', 'channel', 'window_start'])
        .doUpdateSet({ count: sql<number>`${sql.ref(`${THROTTLE_TABLE}.count`)} + 1` }),
    )
    .returning('count')
    .executeTakeFirstOrThrow()
  return Number(counted.count)
}

/** Deletes windows that ended before `beforeMs`; returns how many. */
export async function pruneThrottle(db: Kysely<unknown>, beforeMs: number): Promise<number> {
  const result = await (db as Kysely<ThrottleTables>)
    .deleteFrom(THROTTLE_TABLE)
    .where('window_start', '<', beforeMs)
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

/** The migration creating the throttle counters. */
export const createThrottleTable: Migration = {
  async up(db) {
    await db.schema
      .createTable(THROTTLE_TABLE)
      .addColumn('recipient_id', idColumn(db as Kysely<unknown>, 191), (column) => column.notNull())
      .addColumn('category', idColumn(db as Kysely<unknown>, 191), (column) => column.notNull())
      .addColumn('channel', 'varchar(32)', (column) => column.notNull())
      .addColumn('window_start', 'bigint', (column) => column.notNull())
      .addColumn('count', 'integer', (column) => column.notNull())
      .addPrimaryKeyConstraint('mortar_notify_throttle_pk', [
        'recipient_id',
        'category',
        'channel',
        'window_start',
      ])
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(THROTTLE_TABLE).execute()
  },
}
