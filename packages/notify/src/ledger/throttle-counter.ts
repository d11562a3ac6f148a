import type { Migration } from '@mortar/core'
import { type ExpressionBuilder, type Kysely, sql } from 'kysely'
import { columnIndex, deleteInBatches, idColumn, sqlEngine } from '../sql/index.js'
import { DELIVERY_TABLE } from './delivery-table.js'

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
  mortar_delivery: { id: string; throttle_position: number | null }
}

/** One delivery to count: which, whose, which category and channel, in which window. */
export interface ThrottleKey {
  readonly deliveryId: string
  readonly recipientId: string
  readonly category: string
  readonly channel: string
  readonly windowStart: number
}

/**
 * Counts deliveries per recipient, category and channel in fixed windows, one row per window,
 * incremented atomically (an upsert), so concurrent deliveries never both slip under the limit.
 * Returns each one's count, itself included, in input order.
 *
 * Once per delivery: the count a delivery got is kept on its row (`throttle_position`), in the
 * transaction that increments the window, and a delivery counted before gets that count back
 * unchanged. Before, a worker that died between the count and its result's write left the row
 * unattempted, its job's next run counted it again, and the window held one delivery more than
 * went out (suppressing one it should have let through). A count kept on the row needs no
 * table of its own to prune: it goes with its delivery.
 */
export function countDeliveries(
  db: Kysely<unknown>,
  keys: readonly ThrottleKey[],
): Promise<number[]> {
  return (db as Kysely<ThrottleTables>).transaction().execute(async (trx) => {
    const ids = [...new Set(keys.map((key) => key.deliveryId))].sort(compare)
    // 0: being counted by this transaction. A concurrent count of the same delivery waits on
    // the row's lock, then finds it counted (not null) and leaves it.
    await trx
      .updateTable(DELIVERY_TABLE)
      .set({ throttle_position: 0 })
      .where('id', 'in', ids)
      .where('throttle_position', 'is', null)
      .execute()
    const stored = new Map<string, number>()
    for (const row of await trx
      .selectFrom(DELIVERY_TABLE)
      .select(['id', 'throttle_position'])
      .where('id', 'in', ids)
      .execute()) {
      stored.set(row.id, Number(row.throttle_position))
    }
    // A delivery whose row is gone (pruned) is counted, as ever: it has nothing to keep it on.
    const fresh = new Map<string, ThrottleKey>()
    for (const key of keys) {
      if ((stored.get(key.deliveryId) ?? 0) === 0 && !fresh.has(key.deliveryId)) {
        fresh.set(key.deliveryId, key)
      }
    }
    if (fresh.size > 0) {
      const counts = await incrementWindows(trx, [...fresh.values()])
      const positions = [...fresh.keys()].map((id, index) => [id, counts[index] as number] as const)
      for (const [id, position] of positions) stored.set(id, position)
      await trx
        .updateTable(DELIVERY_TABLE)
        .set({
          throttle_position: sql<number>`case ${sql.ref('id')} ${sql.join(
            positions.map(([id, position]) => sql`when ${id} then cast(${position} as integer)`),
            sql` `,
          )} end`,
        })
        .where(
          'id',
          'in',
          positions.map(([id]) => id),
        )
        .execute()
    }
    return keys.map((key) => stored.get(key.deliveryId) as number)
  })
}

/**
 * Adds each key to its window's count, in one upsert for the batch, keys that repeat within it
 * added up first (a row may be updated once per statement) and numbered in input order.
 */
async function incrementWindows(
  trx: Kysely<ThrottleTables>,
  keys: readonly ThrottleKey[],
): Promise<number[]> {
  const groups = new Map<string, ThrottleRow>()
  const groupOf = (key: Omit<ThrottleKey, 'deliveryId'>) =>
    JSON.stringify([key.recipientId, key.category, key.channel, key.windowStart])
  for (const key of keys) {
    const id = groupOf(key)
    const group = groups.get(id)
    if (group !== undefined) group.count += 1
    else
      groups.set(id, {
        recipient_id: key.recipientId,
        category: key.category,
        channel: key.channel,
        window_start: key.windowStart,
        count: 1,
      })
  }
  // In one order for every batch: rows are locked as they are upserted, so two processes
  // upserting the same keys in opposite orders would deadlock (and fail both batches' jobs).
  const rows = [...groups.entries()].sort(([a], [b]) => compare(a, b)).map(([, row]) => row)
  const insert = trx.insertInto(THROTTLE_TABLE).values(rows)
  let totals: ThrottleRow[]
  if (sqlEngine(trx) === 'mysql') {
    // The upsert holds the rows' locks until commit, so the read sees our increments and no
    // one else's.
    await insert.onDuplicateKeyUpdate({ count: sql<number>`count + values(count)` }).execute()
    totals = await trx
      .selectFrom(THROTTLE_TABLE)
      .selectAll()
      .where((eb) =>
        eb.or(
          rows.map((row) =>
            eb.and([
              eb('recipient_id', '=', row.recipient_id),
              eb('category', '=', row.category),
              eb('channel', '=', row.channel),
              eb('window_start', '=', row.window_start),
            ]),
          ),
        ),
      )
      .forUpdate()
      .execute()
  } else {
    totals = await insert
      .onConflict((conflict) =>
        conflict.columns(['recipient_id', 'category', 'channel', 'window_start']).doUpdateSet({
          count: sql<number>`${sql.ref(`${THROTTLE_TABLE}.count`)} + ${sql.ref('excluded.count')}`,
        }),
      )
      .returningAll()
      .execute()
  }
  // The last of a group's deliveries gets the total; those before it, one less each.
  const left = new Map<string, number>()
  for (const row of totals) {
    const id = groupOf({
      recipientId: row.recipient_id,
      category: row.category,
      channel: row.channel,
      windowStart: Number(row.window_start),
    })
    left.set(id, Number(row.count) - (groups.get(id)?.count ?? 0))
  }
  return keys.map((key) => {
    const id = groupOf(key)
    const count = (left.get(id) ?? 0) + 1
    left.set(id, count)
    return count
  })
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Deletes the windows that ended before `beforeMs`, each by its category's window (`windows`: a
 * throttled category's `windowMs`), by batches (`deleteInBatches`); a category no longer
 * throttled counts no more, so its rows go once they started before it. The current window of
 * every key is kept: it still counts. Returns how many.
 */
export function pruneThrottle(
  db: Kysely<unknown>,
  beforeMs: number,
  windows: ReadonlyMap<string, number>,
): Promise<number> {
  const throttle = db as Kysely<ThrottleTables>
  const throttled = [...windows.keys()]
  const ended = (eb: ExpressionBuilder<ThrottleTables, typeof THROTTLE_TABLE>) =>
    eb.and([
      // Every ended window started before `beforeMs`: the range the window index reads.
      eb('window_start', '<', beforeMs),
      eb.or([
        ...[...windows].map(([category, windowMs]) =>
          eb.and([eb('category', '=', category), eb('window_start', '<', beforeMs - windowMs)]),
        ),
        throttled.length === 0 ? eb.lit(true) : eb('category', 'not in', throttled),
      ]),
    ])
  return deleteInBatches(async (limit) => {
    const batch =
      sqlEngine(db) === 'mysql'
        ? throttle.deleteFrom(THROTTLE_TABLE).where(ended).orderBy('window_start').limit(limit)
        : // No DELETE … LIMIT here; the keys by a subquery (a list of them is too deep for SQLite).
          throttle
            .deleteFrom(THROTTLE_TABLE)
            .where((eb) =>
              eb(
                eb.refTuple('recipient_id', 'category', 'channel', 'window_start'),
                'in',
                eb
                  .selectFrom(THROTTLE_TABLE)
                  .select(['recipient_id', 'category', 'channel', 'window_start'])
                  .where(ended)
                  .orderBy('window_start')
                  .limit(limit)
                  .$asTuple('recipient_id', 'category', 'channel', 'window_start'),
              ),
            )
    const deleted = Number((await batch.executeTakeFirst()).numDeletedRows)
    return { read: deleted, deleted }
  })
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

/**
 * The migration keeping on each delivery the count its throttle gave it (see
 * {@link countDeliveries}); null until counted. A nullable column: added without rewriting the
 * table on every engine.
 */
export const addThrottlePosition: Migration = {
  async up(db) {
    await db.schema.alterTable(DELIVERY_TABLE).addColumn('throttle_position', 'integer').execute()
  },
  async down(db) {
    await db.schema.alterTable(DELIVERY_TABLE).dropColumn('throttle_position').execute()
  },
}

/** The migration indexing throttle windows by start, for {@link pruneThrottle}. */
export const indexThrottleWindows: Migration = columnIndex(
  'mortar_notify_throttle_window',
  THROTTLE_TABLE,
  'window_start',
)
