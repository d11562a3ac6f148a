import { createHash } from 'node:crypto'
import { type Migration, uuidV7 } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import { type Recipient, revivedRecipient } from '../notification/recipient.js'
import { DELIVERY_TABLE, type LedgerTables } from '../ledger/delivery-table.js'
import { type AddressSeal, digestRoutePlace } from '../ledger/sealed-address.js'
import {
  deleteInBatches,
  idColumn,
  idIn,
  insertIgnoringDuplicates,
  longText,
  sqlEngine,
} from '../sql/index.js'

/** The key of a batch's deliveries is this and the batch's id. */
export const DIGEST_KEY_PREFIX = 'digest:'

export const DIGEST_BATCH_TABLE = 'mortar_digest_batch'
export const DIGEST_ITEM_TABLE = 'mortar_digest_item'

type Millis = number | string | bigint

interface BatchRow {
  id: string
  digest_key: string
  recipient_id: string
  /** `digest|recipient` while the batch is open, NULL once closed: unique, so one open batch each. */
  open_key: string | null
  recipient: string
  /** `orphaned`: closed unsent because its digest was not registered; its items wait for the next batch. */
  status: 'open' | 'closed' | 'orphaned'
  created_at: Millis
  closes_at: Millis
}

interface ItemRow {
  id: string
  batch_id: string
  item: string
  /** A digest of (digest, recipient, the notification's idempotency key); NULL without a key. */
  item_key: string | null
  created_at: Millis
}

interface DigestTables {
  mortar_digest_batch: BatchRow
  mortar_digest_item: ItemRow
}

/**
 * Where an item landed: its batch, and whether this call opened it (and so schedules its close);
 * or, for an item whose idempotency key the recipient's digest already has, the batch that has it,
 * and the batch this call opened before it lost the race to add the key (empty, yet open for the
 * recipient's next items: its close is scheduled all the same).
 */
export type DigestPlacement =
  | {
      readonly duplicate?: never
      readonly batchId: string
      readonly opened: boolean
      readonly closesAt: number
    }
  | {
      readonly duplicate: true
      readonly batchId: string
      readonly opened?: { readonly batchId: string; readonly closesAt: number } | undefined
    }

// Unambiguous because a digest's key holds no '|' (defineDigest refuses one); a recipient id may.
function openKey(digestKey: string, recipientId: string): string {
  return `${digestKey}|${recipientId}`
}

/**
 * Adds an item to the recipient's open batch of the digest, opening one if there is none, in
 * the caller's transaction. The open batch is a row with a unique `open_key`: of two concurrent
 * calls one inserts it, the other's insert is skipped (after waiting for the first to commit)
 * and it joins that batch. A batch it opens takes over the items of the recipient's orphaned
 * batches of this digest (closed while the digest was not registered), so they go out with it.
 */
export async function addDigestItem(
  db: Kysely<unknown>,
  input: {
    readonly digestKey: string
    readonly recipient: Recipient
    readonly item: unknown
    /** The notification's idempotency key: an item of the same key is added once. */
    readonly key: string | undefined
    readonly nowMs: number
    readonly closesAt: number
    /** Seals the secret-bearing routes of the recipient's snapshot. */
    readonly seal: AddressSeal
  },
): Promise<DigestPlacement> {
  const typed = db as Kysely<DigestTables>
  const key = openKey(input.digestKey, input.recipient.id)
  const itemKey =
    input.key === undefined
      ? null
      : createHash('sha256')
          .update(JSON.stringify([input.digestKey, input.recipient.id, input.key]))
          .digest('base64url')
  if (itemKey !== null) {
    const earlier = await typed
      .selectFrom(DIGEST_ITEM_TABLE)
      .select('batch_id')
      .where('item_key', '=', itemKey)
      .executeTakeFirst()
    if (earlier !== undefined) return { duplicate: true, batchId: earlier.batch_id }
  }
  for (let tries = 0; tries < 3; tries++) {
    // Time-ordered keys, as the deliveries' (see LedgerNotifier).
    const id = uuidV7(input.nowMs)
    await insertIgnoringDuplicates(db, DIGEST_BATCH_TABLE, [
      {
        id,
        digest_key: input.digestKey,
        recipient_id: input.recipient.id,
        open_key: key,
        recipient: JSON.stringify(snapshot(input.recipient, id, input.seal)),
        status: 'open',
        created_at: input.nowMs,
        closes_at: input.closesAt,
      },
    ])
    let query = typed
      .selectFrom(DIGEST_BATCH_TABLE)
      .select(['id', 'closes_at'])
      .where('open_key', '=', key)
    // MySQL's repeatable read would show the snapshot; a locking read sees the committed batch.
    if (sqlEngine(db) !== 'sqlite') query = query.forUpdate()
    const batch = await query.executeTakeFirst()
    // Closed between our insert and read: try again, which opens a new batch.
    if (batch === undefined) continue
    if (batch.id === id) await adoptOrphanedItems(typed, input.digestKey, input.recipient.id, id)
    // A concurrent call of the same key: the unique index keeps one item (the later waits for
    // the earlier to commit, then adds nothing); a batch opened for nothing sends nothing.
    const itemId = uuidV7(input.nowMs)
    await insertIgnoringDuplicates(db, DIGEST_ITEM_TABLE, [
      {
        id: itemId,
        batch_id: batch.id,
        item: JSON.stringify(input.item ?? null),
        item_key: itemKey,
        created_at: input.nowMs,
      },
    ])
    const placed = { batchId: batch.id, opened: batch.id === id, closesAt: Number(batch.closes_at) }
    if (itemKey === null) return placed
    // Its insert skipped, the item is the one of the call that won the race: a duplicate. A
    // locking read: MySQL's repeatable read would show the snapshot, without the winner's item.
    let keptQuery = typed
      .selectFrom(DIGEST_ITEM_TABLE)
      .select(['id', 'batch_id'])
      .where('item_key', '=', itemKey)
    if (sqlEngine(db) !== 'sqlite') keptQuery = keptQuery.forUpdate()
    const kept = await keptQuery.executeTakeFirst()
    if (kept === undefined || kept.id === itemId) return placed
    return {
      duplicate: true,
      batchId: kept.batch_id,
      opened: placed.opened ? { batchId: placed.batchId, closesAt: placed.closesAt } : undefined,
    }
  }
  throw new Error(
    `Could not place an item in digest '${input.digestKey}' for '${input.recipient.id}'.`,
  )
}

/** Moves the items of the recipient's orphaned batches of a digest into the batch just opened. */
async function adoptOrphanedItems(
  db: Kysely<DigestTables>,
  digestKey: string,
  recipientId: string,
  batchId: string,
): Promise<void> {
  let query = db
    .selectFrom(DIGEST_BATCH_TABLE)
    .select('id')
    .where('recipient_id', '=', recipientId)
    .where('status', '=', 'orphaned')
    .where('digest_key', '=', digestKey)
  if (sqlEngine(db as Kysely<unknown>) !== 'sqlite') query = query.forUpdate()
  const orphans = (await query.execute()).map((row) => row.id)
  if (orphans.length === 0) return
  await db
    .updateTable(DIGEST_ITEM_TABLE)
    .set({ batch_id: batchId })
    .where('batch_id', 'in', orphans)
    .execute()
  await db
    .updateTable(DIGEST_BATCH_TABLE)
    .set({ status: 'closed' })
    .where('id', 'in', orphans)
    .execute()
}

/** A closed batch: who it is for, which digest, and its items in order. */
export interface ClosedBatch {
  readonly orphaned?: never
  readonly id: string
  readonly digestKey: string
  readonly recipient: Recipient
  readonly items: readonly unknown[]
}

/** A batch its close found with no registered digest: closed unsent, its items kept. */
export interface OrphanedBatch {
  readonly orphaned: true
  readonly id: string
  readonly digestKey: string
  readonly recipientId: string
}

/**
 * Closes an open batch and returns it with its items, in the caller's transaction; `undefined`
 * when it is closed already (a repeated close job does nothing) or closed with no item (opened
 * for an item a concurrent call of the same key had added). A batch of a digest that is not
 * `registered` (removed in a deploy) is closed as `orphaned` instead, unsent: new items open a
 * new batch, which takes over its items once the digest is registered again.
 */
export async function closeDigestBatch(
  db: Kysely<unknown>,
  batchId: string,
  seal: AddressSeal,
  registered: (digestKey: string) => boolean,
): Promise<ClosedBatch | OrphanedBatch | undefined> {
  const typed = db as Kysely<DigestTables>
  let query = typed.selectFrom(DIGEST_BATCH_TABLE).selectAll().where('id', '=', batchId)
  if (sqlEngine(db) !== 'sqlite') query = query.forUpdate()
  const batch = await query.executeTakeFirst()
  if (batch === undefined || batch.status !== 'open') return undefined
  const orphaned = !registered(batch.digest_key)
  await typed
    .updateTable(DIGEST_BATCH_TABLE)
    .set({ status: orphaned ? 'orphaned' : 'closed', open_key: null })
    .where('id', '=', batchId)
    .execute()
  if (orphaned) {
    return { orphaned, id: batch.id, digestKey: batch.digest_key, recipientId: batch.recipient_id }
  }
  return withItems(typed, batch, seal)
}

/**
 * A closed batch with its items, to render again a delivery of it that went dead without a
 * message (see `pruneDigestBatches`: such a batch is kept); `undefined` when there is none.
 */
export async function closedDigestBatch(
  db: Kysely<unknown>,
  batchId: string,
  seal: AddressSeal,
): Promise<ClosedBatch | undefined> {
  const typed = db as Kysely<DigestTables>
  const batch = await typed
    .selectFrom(DIGEST_BATCH_TABLE)
    .selectAll()
    .where('id', '=', batchId)
    .where('status', '=', 'closed')
    .executeTakeFirst()
  return batch === undefined ? undefined : withItems(typed, batch, seal)
}

/** The batch with its items in order, its recipient's routes opened; `undefined` with none. */
async function withItems(
  db: Kysely<DigestTables>,
  batch: BatchRow,
  seal: AddressSeal,
): Promise<ClosedBatch | undefined> {
  const items = await db
    .selectFrom(DIGEST_ITEM_TABLE)
    .select('item')
    .where('batch_id', '=', batch.id)
    .orderBy('created_at')
    .orderBy('id')
    .execute()
  if (items.length === 0) return undefined
  return {
    id: batch.id,
    digestKey: batch.digest_key,
    recipient: revivedRecipient(opened(JSON.parse(batch.recipient) as Recipient, batch.id, seal)),
    items: items.map((row) => JSON.parse(row.item) as unknown),
  }
}

/**
 * A digest batch that has not gone out: `open` (collecting items until `closesAt`), or
 * `orphaned` (closed unsent because its digest was not registered; its items wait for the
 * recipient's next batch of that digest once it is).
 */
export interface DigestBatchRecord {
  readonly id: string
  readonly digestKey: string
  readonly recipientId: string
  readonly status: 'open' | 'orphaned'
  readonly items: number
  readonly closesAt: Date
}

/** Batches not gone out and their items, by digest and status (`mortar notify status`). */
export interface DigestBatchCount {
  readonly digestKey: string
  readonly status: 'open' | 'orphaned'
  readonly batches: number
  readonly items: number
}

const UNSENT = ['open', 'orphaned'] as const
const batch = (column: keyof BatchRow) => `${DIGEST_BATCH_TABLE}.${column}` as const

/** The batches with their items, of those that have not gone out (open or orphaned). */
function unsent(db: Kysely<unknown>) {
  return (db as Kysely<DigestTables>)
    .selectFrom(DIGEST_BATCH_TABLE)
    .leftJoin(DIGEST_ITEM_TABLE, `${DIGEST_ITEM_TABLE}.batch_id`, batch('id'))
    .where(batch('status'), 'in', UNSENT)
}

/**
 * The recipient's batches (under any of these ids) that have not gone out (open or orphaned),
 * soonest to close first.
 */
export async function unsentDigestBatches(
  db: Kysely<unknown>,
  recipientIds: string | readonly string[],
): Promise<DigestBatchRecord[]> {
  const rows = await unsent(db)
    .select((eb) => [
      `${DIGEST_BATCH_TABLE}.id as id`,
      `${DIGEST_BATCH_TABLE}.digest_key as digest_key`,
      `${DIGEST_BATCH_TABLE}.recipient_id as recipient_id`,
      `${DIGEST_BATCH_TABLE}.status as status`,
      `${DIGEST_BATCH_TABLE}.closes_at as closes_at`,
      eb.fn.count<number | string | bigint>(`${DIGEST_ITEM_TABLE}.id`).as('items'),
    ])
    .where(
      batch('recipient_id'),
      'in',
      typeof recipientIds === 'string' ? [recipientIds] : recipientIds,
    )
    .groupBy([
      batch('id'),
      batch('digest_key'),
      batch('recipient_id'),
      batch('status'),
      batch('closes_at'),
    ])
    .orderBy(batch('closes_at'))
    .orderBy(batch('id'))
    .execute()
  return rows.map((row) => ({
    id: row.id,
    digestKey: row.digest_key,
    recipientId: row.recipient_id,
    status: row.status as DigestBatchRecord['status'],
    items: Number(row.items),
    closesAt: new Date(Number(row.closes_at)),
  }))
}

/** Every batch that has not gone out, counted with its items by digest and status. */
export async function unsentDigestCounts(db: Kysely<unknown>): Promise<DigestBatchCount[]> {
  type Count = number | string | bigint
  const rows = await unsent(db)
    .select((eb) => [
      `${DIGEST_BATCH_TABLE}.digest_key as digest_key`,
      `${DIGEST_BATCH_TABLE}.status as status`,
      eb.fn.count<Count>(batch('id')).distinct().as('batches'),
      eb.fn.count<Count>(`${DIGEST_ITEM_TABLE}.id`).as('items'),
    ])
    .groupBy([batch('digest_key'), batch('status')])
    .orderBy(batch('digest_key'))
    .orderBy(batch('status'))
    .execute()
  return rows.map((row) => ({
    digestKey: row.digest_key,
    status: row.status as DigestBatchCount['status'],
    batches: Number(row.batches),
    items: Number(row.items),
  }))
}

// What a digest needs of the recipient at close time: their addresses, language, zone and quiet
// hours (without them the digest went out under the module's window, not theirs).
// The recipient as its batch keeps it until it closes, each route sealed for that batch.
function snapshot(recipient: Recipient, batchId: string, seal: AddressSeal): Recipient {
  const { id, email, phone, locale, timeZone, quietHours } = recipient
  return {
    id,
    email,
    phone,
    locale,
    timeZone,
    quietHours,
    routes: mapRoutes(recipient, batchId, (address, place) => seal.seal(address, place)),
  }
}

function opened(stored: Recipient, batchId: string, seal: AddressSeal): Recipient {
  return {
    ...stored,
    routes: mapRoutes(stored, batchId, (address, place) => seal.open(address, place)),
  }
}

function mapRoutes(
  recipient: Recipient,
  batchId: string,
  map: (address: string, place: string) => string,
): Recipient['routes'] {
  if (recipient.routes === undefined) return undefined
  return Object.fromEntries(
    Object.entries(recipient.routes).map(([channel, address]) => [
      channel,
      typeof address === 'string' ? map(address, digestRoutePlace(batchId, channel)) : address,
    ]),
  )
}

/**
 * Deletes the batches that went out (`closed`) before `beforeMs`, with their items, once no
 * delivery of theirs is left unsent: their notification is a sent delivery by then (or one
 * pruned), and they hold the recipient's addresses. A batch with a delivery that is not sent
 * keeps its items, which a replay of it renders again when it went dead without a message. Open
 * and orphaned batches stay (their items have not gone out). By batches (`deleteInBatches`), of
 * batches and of their items: no statement deletes more than 1,000 rows. Returns how many batches
 * and items went.
 */
export async function pruneDigestBatches(
  db: Kysely<unknown>,
  beforeMs: number,
): Promise<{ batches: number; items: number }> {
  const typed = db as Kysely<DigestTables & LedgerTables>
  const batchId = sql.ref(batch('id'))
  // The deliveries of a batch carry `digest:<batch id>` as their key (see DigestNotification).
  const key =
    sqlEngine(db) === 'mysql'
      ? sql`concat(${DIGEST_KEY_PREFIX}, ${batchId})`
      : sql`${DIGEST_KEY_PREFIX} || ${batchId}`
  let items = 0
  // By id from the last one read: a batch that stays (an item added back) is not read again.
  let after = ''
  const batches = await deleteInBatches(async (limit) => {
    const gone = (
      await typed
        .selectFrom(DIGEST_BATCH_TABLE)
        .select('id')
        .where('status', '=', 'closed')
        .where('closes_at', '<', beforeMs)
        .where('id', '>', after)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom(DELIVERY_TABLE)
                .select('id')
                .where(`${DELIVERY_TABLE}.idempotency_key`, '=', key as never)
                .where(`${DELIVERY_TABLE}.status`, '<>', 'sent'),
            ),
          ),
        )
        .orderBy('id')
        .limit(limit)
        .execute()
    ).map((row) => row.id)
    if (gone.length === 0) return { read: 0, deleted: 0 }
    after = gone.at(-1) as string
    // Items first, and a batch only once its items are gone: a prune cut off between the two, or
    // a delivery pruned meanwhile, leaves batches the next one deletes, never items without one.
    items += await deleteInBatches(async (itemLimit) => {
      const ids = (
        await typed
          .selectFrom(DIGEST_ITEM_TABLE)
          .select('id')
          .where(idIn(db, 'batch_id', gone))
          .limit(itemLimit)
          .execute()
      ).map((row) => row.id)
      if (ids.length === 0) return { read: 0, deleted: 0 }
      const result = await typed
        .deleteFrom(DIGEST_ITEM_TABLE)
        .where(idIn(db, 'id', ids))
        .executeTakeFirst()
      return { read: ids.length, deleted: Number(result.numDeletedRows) }
    })
    const result = await typed
      .deleteFrom(DIGEST_BATCH_TABLE)
      .where(idIn(db, 'id', gone))
      .where('status', '=', 'closed')
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom(DIGEST_ITEM_TABLE)
              .select('id')
              .whereRef(`${DIGEST_ITEM_TABLE}.batch_id`, '=', batch('id')),
          ),
        ),
      )
      .executeTakeFirst()
    return { read: gone.length, deleted: Number(result.numDeletedRows) }
  })
  return { batches, items }
}

/**
 * Adds the items' `item_key` (unique), so that a notification with an idempotency key joins the
 * recipient's digest once however often `notify()` runs, as it is delivered once on its own.
 */
export const addDigestItemKeys: Migration = {
  async up(db) {
    await db.schema
      .alterTable(DIGEST_ITEM_TABLE)
      .addColumn('item_key', idColumn(db as Kysely<unknown>, 64))
      .execute()
    await db.schema
      .createIndex('mortar_digest_item_key')
      .on(DIGEST_ITEM_TABLE)
      .columns(['item_key'])
      .unique()
      .execute()
  },
  async down(db) {
    await db.schema.dropIndex('mortar_digest_item_key').on(DIGEST_ITEM_TABLE).execute()
    await db.schema.alterTable(DIGEST_ITEM_TABLE).dropColumn('item_key').execute()
  },
}

/** The migration creating the digest tables. */
export const createDigestTables: Migration = {
  async up(db) {
    const loose = db as Kysely<unknown>
    await db.schema
      .createTable(DIGEST_BATCH_TABLE)
      .addColumn('id', idColumn(loose, 36), (column) => column.primaryKey())
      .addColumn('digest_key', idColumn(loose, 100), (column) => column.notNull())
      .addColumn('recipient_id', idColumn(loose, 191), (column) => column.notNull())
      .addColumn('open_key', idColumn(loose, 292), (column) => column.unique())
      .addColumn('recipient', longText(loose), (column) => column.notNull())
      .addColumn('status', 'varchar(8)', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('closes_at', 'bigint', (column) => column.notNull())
      .execute()
    await db.schema
      .createIndex('mortar_digest_batch_recipient')
      .on(DIGEST_BATCH_TABLE)
      .columns(['recipient_id', 'status'])
      .execute()
    await db.schema
      .createTable(DIGEST_ITEM_TABLE)
      .addColumn('id', idColumn(loose, 36), (column) => column.primaryKey())
      .addColumn('batch_id', idColumn(loose, 36), (column) => column.notNull())
      .addColumn('item', longText(loose), (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .execute()
    await db.schema
      .createIndex('mortar_digest_item_batch')
      .on(DIGEST_ITEM_TABLE)
      .columns(['batch_id'])
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(DIGEST_ITEM_TABLE).execute()
    await db.schema.dropTable(DIGEST_BATCH_TABLE).execute()
  },
}
