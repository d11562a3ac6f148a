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

/** One delivery to count: whose, which category and channel, in which window. */
export interface ThrottleKey {
  readonly recipientId: string
  readonly category: string
  readonly channel: string
  readonly windowStart: number
}

/**
 * Counts deliveries per recipient, category and channel in fixed windows, one row per window,
 * incremented atomically (an upsert), so concurrent deliveries never both slip under the limit.
 * Returns each one's count, itself included, in input order: one upsert for the whole batch,
 * keys that repeat within it added up first (a row may be updated once per statement) and
 * numbered in input order.
 */
export async function countDeliveries(
  db: Kysely<unknown>,
  keys: readonly ThrottleKey[],
): Promise<number[]> {
  const typed = db as Kysely<ThrottleTables>
  const groups = new Map<string, ThrottleRow>()
  const groupOf = (key: ThrottleKey) =>
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
  const rows = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, row]) => row)
  const insert = (on: Kysely<ThrottleTables>) => on.insertInto(THROTTLE_TABLE).values(rows)
  let totals: Pick<
    ThrottleRow,
    'recipient_id' | 'category' | 'channel' | 'window_start' | 'count'
  >[]
  if (sqlEngine(db) === 'mysql') {
    // Two statements in one transaction: the upsert holds the rows' locks until commit, so the
    // read sees our increments and no one else's.
    totals = await typed.transaction().execute(async (trx) => {
      await insert(trx)
        .onDuplicateKeyUpdate({ count: sql<number>`count + values(count)` })
        .execute()
      return trx
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
    })
  } else {
    totals = await insert(typed)
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

/**
 * Deletes the windows that ended before `beforeMs`, each by its category's window (`windows`: a
 * throttled category's `windowMs`); a category no longer throttled counts no more, so its rows
 * go once they started before it. Returns how many.
 */
export async function pruneThrottle(
  db: Kysely<unknown>,
  beforeMs: number,
  windows: ReadonlyMap<string, number>,
): Promise<number> {
  const throttled = [...windows.keys()]
  const result = await (db as Kysely<ThrottleTables>)
    .deleteFrom(THROTTLE_TABLE)
    .where((eb) =>
      eb.or([
        ...[...windows].map(([category, windowMs]) =>
          eb.and([eb('category', '=', category), eb('window_start', '<', beforeMs - windowMs)]),
        ),
        eb.and([
          throttled.length === 0 ? eb.lit(true) : eb('category', 'not in', throttled),
          eb('window_start', '<', beforeMs),
        ]),
      ]),
    )
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
