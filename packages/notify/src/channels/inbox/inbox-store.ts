import {
  afterCommit,
  beforeCommit,
  type Clock,
  type Database,
  isDeadlock,
  type Migration,
  ValidationError,
} from '@mortar/core'
import { InboxConflictError } from '../../errors.js'
import { type Kysely, type RawBuilder, sql } from 'kysely'
import {
  columnIndex,
  deleteInBatches,
  idColumn,
  insertUnlessPresent,
  longText,
  sqlEngine,
} from '../../sql/index.js'
import { pageCursor, readPageCursor, readVersionMarker, versionMarker } from './inbox-marker.js'
import { type InboxMessage, inboxMessageProblem } from './inbox-message.js'

/** Where an inbox item stands: new, seen, or put away. */
export type InboxStatus = 'unread' | 'read' | 'archived'

/** An item of a recipient's in-app inbox. */
export interface InboxItem extends InboxMessage {
  /** The delivery's id, so a retried delivery never makes a second item. */
  readonly id: string
  readonly recipientId: string
  readonly type: string
  readonly status: InboxStatus
  readonly createdAt: Date
  readonly readAt?: Date | undefined
}

/** The recipient's inbox counts by status. */
export interface InboxCounts {
  readonly unread: number
  readonly read: number
  readonly archived: number
  /**
   * The recipient's inbox version these counts are of: every change of their inbox raises it.
   * Answers can arrive out of order (a stream's counts, a page's, `GET /counts`): keep the one
   * with the highest version; two of one version are the same counts.
   */
  readonly version: number
}

/** A page of {@link Inbox.list}: the items, newest first, and the cursor of the next page. */
export interface InboxPage {
  readonly items: readonly InboxItem[]
  readonly nextCursor: string | null
  /**
   * What the page's read saw, for {@link Inbox.markAllRead}'s `upTo`: the items committed by
   * then (on this page or any other), never one committed after. Bound to the recipient, as
   * `nextCursor` is: another recipient's, or one edited, is refused (`InboxMarkerError`, 400).
   */
  readonly marker: string
}

/** What the user was shown, for {@link Inbox.markAllRead}. */
export interface InboxSeen {
  /** The `marker` of the page the user was shown (a page of this recipient's). */
  readonly upTo: string
  /** Items shown since that page (a live stream brought them), by id; at most 500. */
  readonly ids?: readonly string[]
}

/** Options of {@link Inbox.list}. */
export interface InboxListOptions {
  /** `unread`, `read`, `archived`, or `inbox` (unread and read; the default). */
  readonly status?: InboxStatus | 'inbox'
  /** Items per page, 1 to 100; 20 by default. */
  readonly limit?: number
  /** The `nextCursor` of the previous page of this recipient (another's is refused, 400). */
  readonly cursor?: string | null
}

export const INBOX_TABLE = 'mortar_inbox'
/** Each recipient's inbox version (see {@link InboxCounts.version}). */
export const INBOX_VERSION_TABLE = 'mortar_inbox_version'
// Items one statement of `markAllRead` marks at most.
const MARK_BATCH = 1_000

/**
 * A change of a recipient's inbox, heard by {@link Inbox.onChanged} once committed: the version
 * it raised their inbox to, and the item it added, if it added one.
 */
export interface InboxChange {
  readonly recipientId: string
  readonly version: number
  readonly item?: InboxItem | undefined
}

/** An item with the recipient's inbox version that added it (see {@link Inbox.added}). */
export interface VersionedInboxItem {
  readonly item: InboxItem
  readonly version: number
}

/** The versions `after` (exclusive) to `upTo` (inclusive) of a recipient's inbox. */
export interface InboxVersionRange {
  readonly recipientId: string
  readonly after: number
  readonly upTo: number
}

/** How many items one {@link Inbox.added} call returns at most. */
export const ADDED_PAGE = 500

interface InboxRow {
  id: string
  recipient_id: string
  type: string
  title: string
  body: string | null
  url: string | null
  data: string | null
  status: InboxStatus
  created_at: number | string | bigint
  read_at: number | string | bigint | null
  /** The recipient's inbox version that added it; null for items added before versions. */
  version?: number | string | bigint | null
}

interface InboxTables {
  mortar_inbox: InboxRow
  mortar_inbox_version: { recipient_id: string; version: number | string | bigint }
}

/**
 * The in-app inbox in the app's database (`mortar_inbox`): items per recipient, unread, read or
 * archived, with counts. Every method takes the recipient's id and touches only their items, so
 * a handler that passes the signed-in user's id can never read or change someone else's.
 *
 * @example
 * ```ts
 * import { INBOX } from '@mortar/notify'
 *
 * const inbox = app.resolve(INBOX)
 * const { unread } = await inbox.counts(user.id)
 * const page = await inbox.list(user.id, { status: 'unread', limit: 10 })
 * await inbox.markAllRead(user.id, { upTo: page.marker })
 * ```
 */
export class Inbox {
  readonly #database: Database
  readonly #db: Kysely<InboxTables>
  readonly #clock: Clock
  readonly #id: RawBuilder<string>
  readonly #listeners = new Set<(change: InboxChange) => void>()
  readonly #onDispose = new Set<() => void>()
  // Each open transaction's changes, by its Kysely transaction, until its commit raises them.
  readonly #batches = new WeakMap<object, PendingChange[]>()
  readonly #recipientExists: ((recipientId: string) => boolean | Promise<boolean>) | undefined
  #disposed = false

  /**
   * `options.recipientExists` is the notify module's: the inbox over HTTP serves no recipient
   * it no longer knows (see {@link Inbox.exists}).
   */
  constructor(
    database: Database,
    clock: Clock,
    options: {
      readonly recipientExists?: (recipientId: string) => boolean | Promise<boolean>
    } = {},
  ) {
    const db = database.kysely as Kysely<unknown>
    this.#database = database
    this.#recipientExists = options.recipientExists
    this.#db = db as Kysely<InboxTables>
    this.#clock = clock
    // Ids in byte order on every engine, so pages and "up to" mean the same on each: PostgreSQL's
    // default collation may be a language's (en_US ignores '-' at first), the others compare bytes.
    this.#id =
      sqlEngine(db) === 'postgres'
        ? sql<string>`${sql.ref('id')} collate "C"`
        : sql<string>`${sql.ref('id')}`
  }

  /**
   * Adds an item unless one with its id exists (the inbox channel's idempotent write); only an
   * item it wrote is announced to live streams ({@link Inbox.onAdded}). Refuses
   * (`E_VALIDATION`) an id a live stream could not resume from (over 64 characters, a control
   * character: see `inboxHandler`) and a message the inbox channel refuses (a NUL in its title).
   */
  async add(item: {
    readonly id: string
    readonly recipientId: string
    readonly type: string
    readonly message: InboxMessage
  }): Promise<void> {
    const { message } = item
    // A delivery's id is a UUID; SQLite does not enforce the column's varchar(64).
    if (typeof item.id !== 'string' || !ITEM_ID.test(item.id)) {
      throw new ValidationError(
        [
          {
            path: 'id',
            message: 'An inbox item id is 1 to 64 characters without control characters.',
            code: 'invalid_id',
          },
        ],
        'The inbox item id cannot be stored or resumed from.',
      )
    }
    const problem = inboxMessageProblem(message)
    if (problem !== undefined) {
      throw new ValidationError(
        [{ path: 'message', message: problem, code: 'invalid_message' }],
        'The inbox item cannot be stored as given.',
      )
    }
    const row: InboxRow = {
      id: item.id,
      recipient_id: item.recipientId,
      type: item.type,
      title: message.title,
      body: message.body ?? null,
      url: message.url ?? null,
      data: message.data === undefined ? null : JSON.stringify(message.data),
      status: 'unread',
      created_at: this.#clock.nowMs(),
      read_at: null,
    }
    const added = new Map<string, InboxItem>()
    await this.#change(
      [item.recipientId],
      async () => {
        // An id already stored (a retried delivery, or another's) is a change without an item:
        // streams would show an item the inbox does not hold.
        if (
          await insertUnlessPresent(this.#db as Kysely<unknown>, INBOX_TABLE, {
            ...row,
            version: UNSTAMPED,
          })
        )
          added.set(item.recipientId, toItem(row))
      },
      added,
    )
  }

  /**
   * Calls `listener` with each change this process makes to an inbox (in the version order of
   * each recipient's, once committed: a live stream sends its items at once); returns an
   * unsubscribe. Changes by other processes are not heard: {@link Inbox.versions} finds them.
   */
  onChanged(listener: (change: InboxChange) => void): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
    }
  }

  /**
   * Calls `listener` when the inbox is disposed (`app.stop()`), at once if it already was: live
   * streams end then, instead of holding their connections and polling a closed database.
   */
  /**
   * False when the notify module's `recipientExists` says the recipient is gone (deleted); true
   * when the module has none. Every request of `inboxHandler` asks it, and a live stream again
   * at each heartbeat.
   */
  async exists(recipientId: string): Promise<boolean> {
    return (
      this.#recipientExists === undefined || (await this.#recipientExists(recipientId)) === true
    )
  }

  onDispose(listener: () => void): () => void {
    if (this.#disposed) {
      listener()
      return () => {}
    }
    this.#onDispose.add(listener)
    return () => {
      this.#onDispose.delete(listener)
    }
  }

  /** Ends what listens to this inbox; `app.stop()` calls it on the app's inbox. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    this.#listeners.clear()
    for (const listener of this.#onDispose) listener()
    this.#onDispose.clear()
  }

  /** The recipient's items, newest first, a page at a time. */
  async list(recipientId: string, options: InboxListOptions = {}): Promise<InboxPage> {
    // Clamped to 1–100; NaN would pass the clamp and reach the driver as the SQL limit.
    if (options.limit !== undefined && !Number.isFinite(options.limit))
      throw notANumber('limit', 'A number; it is clamped to 1–100.')
    const limit = Math.min(100, Math.max(1, Math.trunc(options.limit ?? 20)))
    const status = options.status ?? 'inbox'
    let query = this.#db
      .selectFrom(INBOX_TABLE)
      .selectAll()
      // In the same statement, so of the same snapshot as the items.
      .select((eb) =>
        eb
          .selectFrom(INBOX_VERSION_TABLE)
          .select('version')
          .where('recipient_id', '=', recipientId)
          .as('inbox_version'),
      )
      .where('recipient_id', '=', recipientId)
      .orderBy('created_at', 'desc')
      .orderBy(this.#id, 'desc')
      .limit(limit + 1)
    query =
      status === 'inbox'
        ? query.where('status', 'in', ['unread', 'read'])
        : query.where('status', '=', status)
    const after =
      options.cursor === undefined || options.cursor === null || options.cursor === ''
        ? undefined
        : readPageCursor(recipientId, options.cursor)
    if (after !== undefined) {
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', after.createdAt),
          eb.and([eb('created_at', '=', after.createdAt), eb(this.#id, '<', after.id)]),
        ]),
      )
    }
    let rows = await query.execute()
    // An empty page reads no version with its rows: read it first, then the page again, so the
    // marker is no later than what that read saw (a stream `?after=` it starts at the page, not
    // at the first item ever: an inbox of archived items only is not sent again as new).
    let before: number | undefined
    if (rows.length === 0) {
      before = (await this.versions([recipientId])).get(recipientId) ?? 0
      rows = await query.execute()
    }
    const items = rows.slice(0, limit).map(toItem)
    const last = items.at(-1)
    const first = rows[0]
    return {
      items,
      nextCursor:
        rows.length > limit && last
          ? pageCursor(recipientId, last.createdAt.getTime(), last.id)
          : null,
      marker: versionMarker(
        recipientId,
        first === undefined ? (before ?? 0) : Number(first.inbox_version ?? 0),
      ),
    }
  }

  /**
   * The recipient's item with this id, or `undefined` when they have none by it (another
   * recipient's item is `undefined` too: it is never read).
   */
  async get(recipientId: string, id: string): Promise<InboxItem | undefined> {
    // No item has it (and PostgreSQL would refuse the NUL).
    if (!storableId(id)) return undefined
    const row = await this.#db
      .selectFrom(INBOX_TABLE)
      .selectAll()
      .where('recipient_id', '=', recipientId)
      .where('id', '=', id)
      .executeTakeFirst()
    return row === undefined ? undefined : toItem(row)
  }

  /**
   * The recipients' inbox versions now (0 for one whose inbox never changed): for live streams,
   * which read {@link Inbox.added} up to them.
   */
  async versions(recipientIds: readonly string[]): Promise<Map<string, number>> {
    const versions = new Map<string, number>()
    if (recipientIds.length === 0) return versions
    const rows = await this.#db
      .selectFrom(INBOX_VERSION_TABLE)
      .select(['recipient_id', 'version'])
      .where('recipient_id', 'in', [...recipientIds])
      .execute()
    for (const row of rows) versions.set(row.recipient_id, Number(row.version))
    return versions
  }

  /**
   * For live streams: the items added by the versions of each range, oldest version first
   * within a recipient, at most {@link ADDED_PAGE}. A range up to a version {@link Inbox.versions}
   * returned is read whole, whatever the commit delays: every change up to it has committed.
   */
  async added(ranges: readonly InboxVersionRange[]): Promise<readonly VersionedInboxItem[]> {
    const open = ranges.filter((range) => range.upTo > range.after)
    if (open.length === 0) return []
    const rows = await this.#db
      .selectFrom(INBOX_TABLE)
      .selectAll()
      .where((eb) =>
        eb.or(
          open.map((range) =>
            eb.and([
              eb('recipient_id', '=', range.recipientId),
              eb('version', '>', range.after),
              eb('version', '<=', range.upTo),
            ]),
          ),
        ),
      )
      .orderBy('version', 'asc')
      .limit(ADDED_PAGE)
      .execute()
    return rows.map((row) => ({ item: toItem(row), version: Number(row.version) }))
  }

  /**
   * For live streams resuming by time (event ids from before versions): the version just before
   * the recipient's first item stamped at or after `ms`, or their version now when none is.
   */
  async versionBefore(recipientId: string, ms: number): Promise<number> {
    if (!Number.isFinite(ms)) throw notANumber('ms', 'A time in ms since the epoch.')
    // Their version first: an item committed between the two reads is past it, so still sent
    // (read after, it would be taken for one before the stream).
    const now = (await this.versions([recipientId])).get(recipientId) ?? 0
    const row = await this.#db
      .selectFrom(INBOX_TABLE)
      .select((eb) => eb.fn.min('version').as('first'))
      .where('recipient_id', '=', recipientId)
      .where('created_at', '>=', ms)
      .executeTakeFirst()
    const first = row?.first
    return first === null || first === undefined ? now : Math.min(Number(first) - 1, now)
  }

  /** The recipient's counts by status with their version, in one query (one snapshot). */
  async counts(recipientId: string): Promise<InboxCounts> {
    const { rows } = await sql<{ status: string; count: number | string | bigint }>`
      select status, count(*) as count from ${sql.table(INBOX_TABLE)}
        where recipient_id = ${recipientId} group by status
      union all
      select 'version' as status, version as count from ${sql.table(INBOX_VERSION_TABLE)}
        where recipient_id = ${recipientId}`.execute(this.#db)
    const counts = { unread: 0, read: 0, archived: 0, version: 0 }
    for (const row of rows) counts[row.status as keyof InboxCounts] = Number(row.count)
    return counts
  }

  /** Marks the recipient's items read; returns how many changed. */
  async markRead(recipientId: string, ids: readonly string[]): Promise<number> {
    checkIds(ids)
    if (ids.length === 0) return 0
    return this.#update(recipientId, ids, 'unread', {
      status: 'read',
      read_at: this.#clock.nowMs(),
    })
  }

  /** Marks the recipient's read items unread again; returns how many changed. */
  async markUnread(recipientId: string, ids: readonly string[]): Promise<number> {
    checkIds(ids)
    if (ids.length === 0) return 0
    return this.#update(recipientId, ids, 'read', { status: 'unread', read_at: null })
  }

  /**
   * Marks read the recipient's unread items the user was shown: those committed by the read of
   * the page they saw (`upTo`, its `marker`: on that page or another), and those a live stream
   * brought since (`ids`). An item committed later stays unread, whatever its time stamp (a
   * transaction in flight may commit an item stamped before the page after it was read): they
   * have not seen it. A thousand items a statement. Returns how many changed. Refuses, changing
   * nothing, a marker that is not one this recipient's pages hand out (another recipient's, one
   * edited: `InboxMarkerError`, 400) and more than 500 ids (`E_VALIDATION`).
   */
  async markAllRead(recipientId: string, seen: InboxSeen): Promise<number> {
    const current = (await this.versions([recipientId])).get(recipientId) ?? 0
    const upTo = readVersionMarker(recipientId, seen?.upTo, current, 'upTo')
    const ids = seen.ids ?? []
    if (!Array.isArray(ids) || ids.length > 500)
      throw new ValidationError([
        { path: 'ids', message: 'At most 500 item ids.', code: 'invalid_ids' },
      ])
    checkIds(ids)
    const now = this.#clock.nowMs()
    let changed = ids.length === 0 ? 0 : await this.markRead(recipientId, ids)
    for (;;) {
      const marked = await this.#change([recipientId], async () => {
        const batch = await this.#db
          .selectFrom(INBOX_TABLE)
          .select('id')
          .where('recipient_id', '=', recipientId)
          .where('status', '=', 'unread')
          // Items from before versions were committed before any marker.
          .where((eb) => eb.or([eb('version', 'is', null), eb('version', '<=', upTo)]))
          .limit(MARK_BATCH)
          .execute()
        if (batch.length === 0) return { read: 0, changed: 0 }
        const result = await this.#db
          .updateTable(INBOX_TABLE)
          .set({ status: 'read', read_at: now })
          .where('status', '=', 'unread')
          .where(
            'id',
            'in',
            batch.map((row) => row.id),
          )
          .executeTakeFirst()
        return { read: batch.length, changed: Number(result.numUpdatedRows) }
      })
      changed += marked.changed
      if (marked.read < MARK_BATCH) return changed
    }
  }

  /** Archives the recipient's items (read or not); returns how many changed. */
  async archive(recipientId: string, ids: readonly string[]): Promise<number> {
    checkIds(ids)
    if (ids.length === 0) return 0
    const result = await this.#change([recipientId], () =>
      this.#db
        .updateTable(INBOX_TABLE)
        .set({ status: 'archived' })
        .where('recipient_id', '=', recipientId)
        .where('id', 'in', [...ids])
        .where('status', '<>', 'archived')
        .executeTakeFirst(),
    )
    return Number(result.numUpdatedRows)
  }

  /**
   * Deletes read and archived items created before `before` (unread ones are kept, however old),
   * a batch of 1,000 at a time (`deleteInBatches`), so no statement locks or scans more than that;
   * returns how many. The notify module runs it daily (`notifyModule({ inboxRetentionDays })`).
   */
  async prune(before: Date): Promise<number> {
    const at = before instanceof Date ? before.getTime() : Number.NaN
    // NaN compares false with every row: the prune would delete nothing, silently.
    if (Number.isNaN(at)) throw notANumber('before', 'A valid date.')
    return deleteInBatches(async (limit) => {
      const ids = await this.#db
        .selectFrom(INBOX_TABLE)
        .select(['id', 'recipient_id'])
        .where('created_at', '<', at)
        .where('status', 'in', ['read', 'archived'])
        .orderBy('created_at')
        .limit(limit)
        .execute()
      if (ids.length === 0) return { read: 0, deleted: 0 }
      const result = await this.#change(
        ids.map((row) => row.recipient_id),
        () =>
          this.#db
            .deleteFrom(INBOX_TABLE)
            .where(
              'id',
              'in',
              ids.map((row) => row.id),
            )
            // Marked unread again meanwhile: kept.
            .where('status', 'in', ['read', 'archived'])
            .executeTakeFirst(),
      )
      return { read: ids.length, deleted: Number(result.numDeletedRows) }
    })
  }

  async #update(
    recipientId: string,
    ids: readonly string[],
    from: InboxStatus,
    set: Partial<InboxRow>,
  ): Promise<number> {
    const result = await this.#change([recipientId], () =>
      this.#db
        .updateTable(INBOX_TABLE)
        .set(set)
        .where('recipient_id', '=', recipientId)
        .where('status', '=', from)
        .where('id', 'in', [...ids])
        .executeTakeFirst(),
    )
    return Number(result.numUpdatedRows)
  }

  /**
   * Runs `change` in a transaction (the caller's, when one is open) and raises the recipients'
   * versions just before it commits (core's `beforeCommit`): every change of the transaction at
   * once, its recipients' version rows locked sorted by id, whatever order the calls came in, so
   * two transactions changing the same inboxes in opposite orders cannot deadlock on them. Each
   * change takes the next version of each of its recipients, in call order, and an item it added
   * is stamped with it. The version's row lock is held to the commit, so the recipient's changes
   * commit in version order: a read that sees a version sees every change up to it and none after
   * (counts of one version are the same; a marker covers exactly what was read; a stream that has
   * read up to a version has missed nothing before it). Once committed, each recipient's change
   * is told to {@link Inbox.onChanged}, with the item `added` holds for them. A deadlock on the
   * items themselves (two transactions marking the same items in opposite orders) comes out as
   * the typed, retryable `InboxConflictError` (their transaction is rolled back: only they can
   * run it again).
   */
  async #change<T>(
    recipientIds: readonly string[],
    change: () => Promise<T>,
    added?: ReadonlyMap<string, InboxItem>,
  ): Promise<T> {
    const pending: PendingChange = { recipientIds: [...new Set(recipientIds)].sort(), added }
    try {
      return await this.#database.transaction(async () => {
        const result = await change()
        // Registered once the change is done: a change that threw raises no version. On this
        // database's transaction: another database's, open inside it, may commit before it or
        // roll back alone (the items then kept no version of their own).
        await beforeCommit(() => this.#queue(pending), { database: this.#database })
        return result
      })
    } catch (error) {
      throw isDeadlock(error) ? new InboxConflictError(error) : error
    }
  }

  /**
   * Before the commit: adds the change to its transaction's batch; the first one of a batch
   * schedules its flush, which thereby runs after every change of the transaction is queued.
   */
  async #queue(pending: PendingChange): Promise<void> {
    const trx = this.#database.current
    const batch = this.#batches.get(trx)
    if (batch !== undefined) {
      batch.push(pending)
      return
    }
    this.#batches.set(trx, [pending])
    await beforeCommit(() => this.#flush(trx), { database: this.#database })
  }

  /** Raises the versions of a transaction's batch, sorted, and stamps the items it added. */
  async #flush(trx: object): Promise<void> {
    const batch = this.#batches.get(trx) ?? []
    this.#batches.delete(trx)
    const counts = new Map<string, number>()
    for (const { recipientIds } of batch)
      for (const id of recipientIds) counts.set(id, (counts.get(id) ?? 0) + 1)
    const ids = [...counts.keys()].sort()
    if (ids.length === 0) return
    const insert = this.#db
      .insertInto(INBOX_VERSION_TABLE)
      .values(ids.map((id) => ({ recipient_id: id, version: counts.get(id) ?? 0 })))
    const version = sql.ref(`${INBOX_VERSION_TABLE}.version`)
    await (sqlEngine(this.#db as Kysely<unknown>) === 'mysql'
      ? insert.onDuplicateKeyUpdate({ version: sql<number>`${version} + values(version)` })
      : insert.onConflict((conflict) =>
          conflict
            .column('recipient_id')
            .doUpdateSet({ version: sql<number>`${version} + excluded.version` }),
        )
    ).execute()
    // This transaction's own raise: seen at any isolation level.
    const raised = await this.versions(ids)
    const next = new Map(ids.map((id) => [id, (raised.get(id) ?? 0) - (counts.get(id) ?? 0)]))
    const changes: InboxChange[] = []
    for (const { recipientIds, added } of batch) {
      for (const recipientId of recipientIds) {
        const at = (next.get(recipientId) ?? 0) + 1
        next.set(recipientId, at)
        const item = added?.get(recipientId)
        if (item !== undefined) {
          await this.#db
            .updateTable(INBOX_TABLE)
            .set({ version: at })
            .where('id', '=', item.id)
            .execute()
        }
        changes.push({ recipientId, version: at, item })
      }
    }
    if (this.#listeners.size > 0) {
      await afterCommit(
        () => {
          for (const heard of changes) for (const listener of this.#listeners) listener(heard)
        },
        { database: this.#database },
      )
    }
  }
}

/** A change waiting for its transaction's commit to take its versions. */
interface PendingChange {
  readonly recipientIds: readonly string[]
  readonly added: ReadonlyMap<string, InboxItem> | undefined
}

// The version of an item added by a transaction that has not raised its versions yet: above
// every marker (15 digits at most), so `markAllRead` in the same transaction never takes it.
// Never committed: the stamp replaces it before the commit.
const UNSTAMPED = Number.MAX_SAFE_INTEGER

function toItem(row: InboxRow): InboxItem {
  return {
    id: row.id,
    recipientId: row.recipient_id,
    type: row.type,
    title: row.title,
    body: row.body ?? undefined,
    url: row.url ?? undefined,
    data: row.data === null ? undefined : (JSON.parse(row.data) as Record<string, unknown>),
    status: row.status,
    createdAt: new Date(Number(row.created_at)),
    readAt: row.read_at === null ? undefined : new Date(Number(row.read_at)),
  }
}

/**
 * Refuses (`E_VALIDATION`) ids no item can have, which an engine may refuse too (PostgreSQL takes
 * no NUL: a 422 there, a silent miss elsewhere): every engine answers the same.
 */
function checkIds(ids: readonly unknown[]): void {
  if (ids.every((id) => typeof id === 'string' && id.length <= 64 && storableId(id))) return
  throw new ValidationError(
    [
      {
        path: 'ids',
        message: 'Item ids are text of at most 64 characters without NUL.',
        code: 'invalid_ids',
      },
    ],
    'An inbox item id is malformed.',
  )
}

function storableId(id: string): boolean {
  return !id.includes('\u0000')
}

// What a stream's Last-Event-ID can carry back (see `inboxHandler`'s resume): at most the 64
// characters of the column, no line break or other control character.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
const ITEM_ID = /^[^\u0000-\u001f\u007f]{1,64}$/

/** The migration creating `mortar_inbox`. */
export const createInboxTable: Migration = {
  async up(db) {
    const id = idColumn(db as Kysely<unknown>, 191)
    await db.schema
      .createTable(INBOX_TABLE)
      .addColumn('id', idColumn(db as Kysely<unknown>, 64), (column) => column.primaryKey())
      .addColumn('recipient_id', id, (column) => column.notNull())
      .addColumn('type', 'varchar(191)', (column) => column.notNull())
      .addColumn('title', 'text', (column) => column.notNull())
      .addColumn('body', longText(db as Kysely<unknown>))
      .addColumn('url', 'text')
      .addColumn('data', longText(db as Kysely<unknown>))
      .addColumn('status', 'varchar(16)', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('read_at', 'bigint')
      .execute()
    await db.schema
      .createIndex('mortar_inbox_recipient_created')
      .on(INBOX_TABLE)
      .columns(['recipient_id', 'created_at'])
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(INBOX_TABLE).execute()
  },
}

/**
 * The migration adding each recipient's inbox version and the version that added each item (see
 * {@link InboxCounts.version}, {@link Inbox.markAllRead}); items from before have none.
 */
export const addInboxVersions: Migration = {
  async up(db) {
    await db.schema
      .createTable(INBOX_VERSION_TABLE)
      .addColumn('recipient_id', idColumn(db as Kysely<unknown>, 191), (column) =>
        column.primaryKey(),
      )
      .addColumn('version', 'bigint', (column) => column.notNull())
      .execute()
    await db.schema.alterTable(INBOX_TABLE).addColumn('version', 'bigint').execute()
  },
  async down(db) {
    await db.schema.alterTable(INBOX_TABLE).dropColumn('version').execute()
    await db.schema.dropTable(INBOX_VERSION_TABLE).execute()
  },
}

/** The migration indexing inbox items by age, for {@link Inbox.prune}. */
export const indexInboxAge: Migration = columnIndex(
  'mortar_inbox_created',
  INBOX_TABLE,
  'created_at',
)

/** The migration indexing each recipient's items by version, for live streams' reads. */
export const indexInboxVersions: Migration = columnIndex(
  'mortar_inbox_recipient_version',
  INBOX_TABLE,
  ['recipient_id', 'version'],
)

function notANumber(path: string, message: string): ValidationError {
  return new ValidationError([{ path, message, code: 'invalid_number' }])
}
