import type { DatabaseEngine, Migration, MigrationDatabase } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import type { ChannelName } from '../channels/channel.js'
import { idColumn, longText } from '../sql/index.js'
import { shownStoredAddress } from './sealed-address.js'

/**
 * Where a delivery stands:
 * - `queued`: written, its job will send it (at `runAt`);
 * - `sending`: a worker holds its job now (read from the jobs engine); stored too, before a
 *   send on a channel without idempotency keys (mail, chat), as a mark held by that attempt
 *   until its result is recorded or its lease (`sendingUntil`) passes;
 * - `failed`: the last attempt failed, or was cut off mid-send (its mark's lease passed with no
 *   result), and another is scheduled;
 * - `sent`: the provider accepted it;
 * - `dead`: failed for good (a permanent failure, or every attempt used); replayable;
 * - `suppressed`: recorded but never sent (opted out, throttled, no address, recipient deleted).
 */
export type DeliveryStatus = 'queued' | 'sending' | 'failed' | 'sent' | 'dead' | 'suppressed'

/** One delivery of the ledger: one recipient × channel of a `notify()` call. */
export interface DeliveryRecord {
  readonly id: string
  /** Shared by the deliveries of one `notify()` call. */
  readonly notificationId: string
  readonly type: string
  readonly category: string
  readonly recipientId: string
  readonly channel: ChannelName
  /**
   * The address it was (or would have been) sent to; a URL as its scheme and host only
   * (`https://hooks.slack.com/…`), since the rest of a webhook or chat URL may be its secret.
   */
  readonly address: string | undefined
  readonly idempotencyKey: string | undefined
  readonly status: DeliveryStatus
  /** Attempts made so far, the one being made included. */
  readonly attempts: number
  /** Why it failed or was suppressed, for the last attempt. */
  readonly lastError: string | undefined
  readonly providerMessageId: string | undefined
  /**
   * Attempts on a channel without idempotency keys (mail, chat) that started after an earlier
   * one that may have sent it left no result (its worker died mid-send, its send outlasted its
   * lease) or failed transiently once the message was on its way, be they its job's retries, a
   * run taking a mark over or a replay's: the message may have gone out twice. Channels that
   * take the delivery's id as a key dedupe a resend themselves.
   */
  readonly possibleDuplicates: number
  /**
   * While an attempt holds the delivery's `sending` mark: when its lease ends. Until then no
   * other attempt sends it (a second run of its job waits for the result instead); after it,
   * with no result recorded, the next attempt may send, counted as a possible duplicate.
   */
  readonly sendingUntil: Date | undefined
  readonly runAt: Date
  readonly createdAt: Date
  readonly updatedAt: Date
  readonly sentAt: Date | undefined
}

export const DELIVERY_TABLE = 'mortar_delivery'

type Millis = number | string | bigint

export interface DeliveryRow {
  id: string
  notification_id: string
  type: string
  category: string
  recipient_id: string
  channel: string
  address: string | null
  message: string
  idempotency_key: string | null
  status: DeliveryStatus
  attempts: number
  last_error: string | null
  provider_message_id: string | null
  possible_duplicates: number
  /**
   * How often it was replayed: a delivery job carries the count it was enqueued with, and only
   * the job of the newest replay may send or record a result (see `Deliveries.replay`).
   */
  replays: number
  /** The end of the `sending` mark's lease (null: no mark, or one from before leases). */
  sending_until: Millis | null
  /**
   * The attempt holding the `sending` mark: only its result is recorded while it holds it. Kept
   * after it while its message may have gone out (no result, a transient failure), whatever the
   * status, so that the next send counts a possible duplicate; cleared by any other result.
   */
  sending_token: string | null
  run_at: Millis
  created_at: Millis
  updated_at: Millis
  sent_at: Millis | null
  /**
   * The recipient's quiet hours for this delivery, as `storedQuietHours` writes them (null:
   * none, or a critical category): each attempt waits for the window's end when it falls in it.
   */
  quiet_hours: string | null
  /**
   * The addresses besides the recipient's that a provider took the message for while it did not
   * take it for the recipient (a mail's cc and bcc), as a JSON array (null: none): every later
   * send of the delivery leaves them out (see `DeliveryLedger.keepSentTo`).
   */
  sent_to: string | null
}

/**
 * The columns an attempt reads (what a send and its events need), by name: what the worker's
 * prepared read selects instead of `*`, whose plan the server would refuse once a migration
 * added a column (see core's `executePrepared`). The rest of the row (its status history) is
 * never read back by a send: half the columns a row, each one the server formats as text and
 * the client decodes, for every delivery.
 */
export const SENDABLE_COLUMNS = [
  'id',
  'notification_id',
  'type',
  'category',
  'recipient_id',
  'channel',
  'address',
  'message',
  'replays',
  'quiet_hours',
  // Whether an attempt was recorded yet: the throttle counts a delivery at its first.
  'attempts',
] as const satisfies readonly (keyof DeliveryRow)[]

/** What an attempt reads of a delivery's row. */
export type SendableRow = Pick<DeliveryRow, (typeof SENDABLE_COLUMNS)[number]>

export interface LedgerTables {
  mortar_delivery: DeliveryRow
}

/**
 * A reason as `last_error` keeps it: at most 2 000 characters (a refused address or a
 * provider's answer can be anything), as {@link storableText}.
 */
export function storedReason(reason: string): string {
  const text = storableText(reason)
  return text.length > 2_000 ? `${wholeCharacters(text, 1_997)}...` : text
}

/**
 * A provider's message id as `provider_message_id` keeps it: at most 255 characters (its
 * column's size), as {@link storableText}. Refused, the result's write would fail and the
 * delivery be sent again.
 */
export function storedProviderId(id: string): string {
  const text = storableText(id)
  return text.length > 255 ? wholeCharacters(text, 255) : text
}

/**
 * The first `max` UTF-16 units of `text`, less the first half of a character they would cut in
 * two: that half is a lone surrogate, whose escape PostgreSQL's JSON refuses (the results
 * UPDATE failed whole, and its deliveries were sent again).
 */
export function wholeCharacters(text: string, max: number): string {
  const code = text.charCodeAt(max - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max)
}

const LONE_SURROGATE = /\p{Cs}/u
const LONE_SURROGATES = /\p{Cs}/gu

/**
 * Text a provider gave, as every engine can store it: NUL (PostgreSQL's text refuses it) and
 * lone surrogates (PostgreSQL's JSON refuses their escapes; the drivers wrote them as U+FFFD)
 * replaced by U+FFFD.
 */
function storableText(text: string): string {
  const clean = text.replaceAll('\u0000', '\uFFFD')
  return LONE_SURROGATE.test(clean) ? clean.replace(LONE_SURROGATES, '\uFFFD') : clean
}

/**
 * A stored `sending` whose lease passed with no result: its attempt was cut off mid-send (its
 * worker died or gave up), and its job runs it again.
 */
export const INTERRUPTED_SEND =
  'interrupted: its attempt held the sending mark past its lease with no result; the message may have gone out'

/** Whether a stored `sending` mark still holds at `nowMs` (one from before leases never does). */
export function markHolds(row: Pick<DeliveryRow, 'status' | 'sending_until'>, nowMs: number) {
  return row.status === 'sending' && row.sending_until !== null && Number(row.sending_until) > nowMs
}

/** A row as the app reads it at `nowMs`: a `sending` whose mark's lease passed reads as `failed`. */
export function toDeliveryRecord(row: DeliveryRow, nowMs: number): DeliveryRecord {
  const holds = markHolds(row, nowMs)
  const interrupted = row.status === 'sending' && !holds
  return {
    id: row.id,
    notificationId: row.notification_id,
    type: row.type,
    category: row.category,
    recipientId: row.recipient_id,
    channel: row.channel as ChannelName,
    address: row.address === null ? undefined : shownStoredAddress(row.address),
    idempotencyKey: row.idempotency_key ?? undefined,
    status: interrupted ? 'failed' : row.status,
    attempts: Number(row.attempts),
    // An attempt's mark is left lapsing with its error when its message may have gone out.
    lastError: row.last_error ?? (interrupted ? INTERRUPTED_SEND : undefined),
    providerMessageId: row.provider_message_id ?? undefined,
    possibleDuplicates: Number(row.possible_duplicates),
    sendingUntil: holds ? new Date(Number(row.sending_until)) : undefined,
    runAt: new Date(Number(row.run_at)),
    createdAt: new Date(Number(row.created_at)),
    updatedAt: new Date(Number(row.updated_at)),
    sentAt: row.sent_at === null ? undefined : new Date(Number(row.sent_at)),
  }
}

/** The migration creating the delivery ledger. */
export const createDeliveryTable: Migration = {
  async up(db) {
    const loose = db as Kysely<unknown>
    await db.schema
      .createTable(DELIVERY_TABLE)
      .addColumn('id', idColumn(loose, 36), (column) => column.primaryKey())
      .addColumn('notification_id', idColumn(loose, 36), (column) => column.notNull())
      .addColumn('type', 'varchar(191)', (column) => column.notNull())
      .addColumn('category', 'varchar(191)', (column) => column.notNull())
      .addColumn('recipient_id', idColumn(loose, 191), (column) => column.notNull())
      .addColumn('channel', 'varchar(32)', (column) => column.notNull())
      .addColumn('address', 'text')
      .addColumn('message', longText(loose), (column) => column.notNull())
      .addColumn('idempotency_key', idColumn(loose, 191))
      .addColumn('status', 'varchar(16)', (column) => column.notNull())
      .addColumn('attempts', 'integer', (column) => column.notNull())
      .addColumn('last_error', 'text')
      .addColumn('provider_message_id', 'varchar(255)')
      .addColumn('possible_duplicates', 'integer', (column) => column.notNull())
      .addColumn('run_at', 'bigint', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('updated_at', 'bigint', (column) => column.notNull())
      .addColumn('sent_at', 'bigint')
      .execute()
    // Several NULL keys never conflict, on every engine: only keyed notifications are unique.
    await db.schema
      .createIndex('mortar_delivery_idempotency')
      .on(DELIVERY_TABLE)
      .columns(['recipient_id', 'channel', 'idempotency_key'])
      .unique()
      .execute()
    await db.schema
      .createIndex('mortar_delivery_recipient_created')
      .on(DELIVERY_TABLE)
      .columns(['recipient_id', 'created_at'])
      .execute()
    await db.schema
      .createIndex('mortar_delivery_status_updated')
      .on(DELIVERY_TABLE)
      .columns(['status', 'updated_at'])
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(DELIVERY_TABLE).execute()
  },
}

/**
 * Slims what every delivery row costs to write and to move through its statuses:
 * - on PostgreSQL and SQLite the idempotency index covers only keyed rows (most notifications
 *   carry no key, and a NULL key never conflicts anyway); MySQL/MariaDB has no partial index;
 * - the `status, updated_at` index goes: each delivery changes both columns twice (sending,
 *   then its result), so it was rewritten on every transition, and on PostgreSQL it made each
 *   transition a full row version with an entry in every index instead of an in-page (HOT)
 *   update. Its readers are operators' commands and pruning, which now scan the table like
 *   `mortar notify status` always did; room is left in PostgreSQL's pages for HOT updates.
 */
export const slimDeliveryIndexes: Migration = {
  async up(db, { engine }) {
    await dropIndex(db, engine, 'mortar_delivery_status_updated')
    if (engine === 'mysql') return
    await dropIndex(db, engine, 'mortar_delivery_idempotency')
    await db.schema
      .createIndex('mortar_delivery_idempotency')
      .on(DELIVERY_TABLE)
      .columns(['recipient_id', 'channel', 'idempotency_key'])
      .unique()
      .where(sql.ref('idempotency_key'), 'is not', null)
      .execute()
    if (engine === 'postgres') {
      await sql`alter table ${sql.table(DELIVERY_TABLE)} set (fillfactor = 80)`.execute(db)
    }
  },
  async down(db, { engine }) {
    if (engine === 'postgres') {
      await sql`alter table ${sql.table(DELIVERY_TABLE)} reset (fillfactor)`.execute(db)
    }
    if (engine !== 'mysql') {
      await dropIndex(db, engine, 'mortar_delivery_idempotency')
      await db.schema
        .createIndex('mortar_delivery_idempotency')
        .on(DELIVERY_TABLE)
        .columns(['recipient_id', 'channel', 'idempotency_key'])
        .unique()
        .execute()
    }
    await db.schema
      .createIndex('mortar_delivery_status_updated')
      .on(DELIVERY_TABLE)
      .columns(['status', 'updated_at'])
      .execute()
  },
}

/**
 * Adds `replays`, so that an earlier job of a replayed delivery (a dead job retried, a job its
 * engine runs again) can no longer send it beside the replay's own job.
 */
export const addDeliveryReplays: Migration = {
  async up(db) {
    await db.schema
      .alterTable(DELIVERY_TABLE)
      .addColumn('replays', 'integer', (column) => column.notNull().defaultTo(0))
      .execute()
  },
  async down(db) {
    await db.schema.alterTable(DELIVERY_TABLE).dropColumn('replays').execute()
  },
}

/**
 * Halves how full PostgreSQL packs the delivery table's pages (80 % before): each delivery's
 * row gets a second version (its result) about as wide as the first, and only with room for it
 * in the same page is that an in-page (HOT) update, without a new entry in every index; at 80 %
 * only about half were (a drain of 35,000: 57 %, against 99 % at 50 %), and the results' WAL
 * per row halves. Pages filled before keep their packing.
 */
export const roomForDeliveryResults: Migration = {
  async up(db, { engine }) {
    if (engine === 'postgres') {
      await sql`alter table ${sql.table(DELIVERY_TABLE)} set (fillfactor = 50)`.execute(db)
    }
  },
  async down(db, { engine }) {
    if (engine === 'postgres') {
      await sql`alter table ${sql.table(DELIVERY_TABLE)} set (fillfactor = 80)`.execute(db)
    }
  },
}

/**
 * Gives the `sending` mark a lease and a holder: a second run of a delivery's job at once (its
 * job's lease passed under a live worker, an engine running a job again) finds the mark held
 * and does not send, and only the holder's result is recorded.
 */
export const addSendingLease: Migration = {
  async up(db) {
    // One column a statement: SQLite adds one at a time.
    await db.schema.alterTable(DELIVERY_TABLE).addColumn('sending_until', 'bigint').execute()
    await db.schema
      .alterTable(DELIVERY_TABLE)
      .addColumn('sending_token', idColumn(db as Kysely<unknown>, 36))
      .execute()
  },
  async down(db) {
    await db.schema.alterTable(DELIVERY_TABLE).dropColumn('sending_token').execute()
    await db.schema.alterTable(DELIVERY_TABLE).dropColumn('sending_until').execute()
  },
}

/**
 * Clears the tokens that results left before they cleared them (a sent, refused or not accepted
 * attempt's), which would now count the next send as a possible duplicate; kept where the
 * message may have gone out: a mark with no result, a last attempt that failed transiently.
 */
export const settleSendingTokens: Migration = {
  async up(db) {
    await db
      .updateTable(DELIVERY_TABLE)
      .set({ sending_token: null })
      .where('sending_token', 'is not', null)
      .where('status', '<>', 'sending')
      .where((eb) =>
        eb.or([
          eb('status', '<>', 'dead'),
          eb('last_error', 'is', null),
          eb('last_error', 'not like', 'transient:%'),
        ]),
      )
      .execute()
  },
  async down() {
    // Nothing to restore: a cleared token held no send whose outcome is unknown.
  },
}

/**
 * Adds `quiet_hours`: the window was applied when `notify()` wrote the row only, so a retry, a
 * replay or a digest sent later went out inside it. Rows written before keep none.
 */
export const addDeliveryQuietHours: Migration = {
  async up(db) {
    await db.schema.alterTable(DELIVERY_TABLE).addColumn('quiet_hours', 'varchar(96)').execute()
  },
  async down(db) {
    await db.schema.alterTable(DELIVERY_TABLE).dropColumn('quiet_hours').execute()
  },
}

/**
 * Adds `sent_to`: the cc and bcc a provider took a mail for while it did not take it for the
 * recipient were not kept past the attempt, so its retry, its replay or a fallback's provider on
 * a later attempt sent them the mail again.
 */
export const addDeliverySentTo: Migration = {
  async up(db) {
    await db.schema
      .alterTable(DELIVERY_TABLE)
      .addColumn('sent_to', longText(db as Kysely<unknown>))
      .execute()
  },
  async down(db) {
    await db.schema.alterTable(DELIVERY_TABLE).dropColumn('sent_to').execute()
  },
}

function dropIndex(db: MigrationDatabase, engine: DatabaseEngine, name: string): Promise<void> {
  // MySQL/MariaDB name an index within its table; the others within the schema.
  const drop = db.schema.dropIndex(name)
  return (engine === 'mysql' ? drop.on(DELIVERY_TABLE) : drop).execute()
}
