import { randomUUID } from 'node:crypto'
import {
  ChurnVacuum,
  type Clock,
  type CompanionWrite,
  type CompletionWrite,
  type Database,
  executePrepared,
  type Logger,
} from '@mortar/core'
import {
  type Compilable,
  type CompiledQuery,
  type Expression,
  expressionBuilder,
  type Kysely,
  type RawBuilder,
  RawNode,
  sql,
  ValueNode,
} from 'kysely'
import type { ChannelName } from '../channels/channel.js'
import { DeliveryNotFoundError, DeliveryNotReplayableError } from '../errors.js'
import { type DigestBatchCount, unsentDigestCounts } from '../digest/digest-store.js'
import type { PreferenceEntry } from '../preferences/preference-policy.js'
import {
  groupByOwner,
  PREFERENCE_TABLE,
  type PreferenceTables,
} from '../preferences/preference-store.js'
import { deleteInBatches, idIn, rowsById, type SqlEngine, sqlEngine } from '../sql/index.js'
import { Batcher } from './batcher.js'
import { deliveryInsertion, keyedDeliveryInsert } from './delivery-insert.js'
import {
  DELIVERY_TABLE,
  type DeliveryRecord,
  type DeliveryRow,
  type DeliveryStatus,
  type LedgerTables,
  markHolds,
  SENDABLE_COLUMNS,
  type SendableRow,
  storedProviderId,
  storedReason,
  toDeliveryRecord,
} from './delivery-table.js'

/** A delivery read for an attempt, with its recipient's stored preferences. */
export interface LoadedDelivery {
  readonly row: SendableRow
  readonly preferences: readonly PreferenceEntry[]
}

/** A recipient's stored choice, as a claim's carried read holds it: category, channel, enabled. */
type CarriedChoice = readonly [category: string, channel: string, enabled: unknown]

/**
 * A delivery's row as a claim of its job read it (see {@link deliveryClaimRead}): one JSON array,
 * the values of {@link SENDABLE_COLUMNS} but its id (the job's payload has it) in order, then
 * its recipient's stored choices (`null` for none, as most recipients). An array, not an object:
 * the worker parses no key a column (a third of the parse a delivery), and the row it builds
 * from it ({@link carriedRow}) has the same shape for every delivery. The id and a choice's
 * keys left out: the text the worker parses and scans for long numbers a third shorter.
 */
export interface CarriedDelivery {
  readonly v: readonly [
    notification_id: string,
    type: string,
    category: string,
    recipient_id: string,
    channel: string,
    address: string | null,
    message: string,
    replays: number,
    quiet_hours: string | null,
    attempts: number,
    preferences: readonly CarriedChoice[] | null,
  ]
}

/** The columns a claim carries, in their order: {@link SENDABLE_COLUMNS} but the id. */
const CARRIED_COLUMNS = SENDABLE_COLUMNS.slice(1)

/**
 * The row of delivery `id` that a {@link CarriedDelivery} holds: its values named as
 * {@link SENDABLE_COLUMNS}, in order.
 */
export function carriedRow(id: string, v: CarriedDelivery['v']): SendableRow {
  return {
    id,
    notification_id: v[0],
    type: v[1],
    category: v[2],
    recipient_id: v[3],
    channel: v[4],
    address: v[5],
    message: v[6],
    replays: v[7],
    quiet_hours: v[8],
    attempts: v[9],
  }
}

/** The choices of the recipient that a {@link CarriedDelivery} holds, as the preference policy reads them. */
export function carriedChoices(v: CarriedDelivery['v']): readonly PreferenceEntry[] {
  const choices = v[10]
  // Most recipients stored no choice: nothing made for them.
  return choices === null ? NO_PREFERENCES : choices.map(preferenceEntry)
}

/**
 * The read of a delivery's row and its recipient's choices that the claim of its job carries
 * where the jobs engine can (core's SQL queue on PostgreSQL: one statement a claim instead of
 * two), as {@link DeliveryLedger.load} reads them elsewhere.
 */
export function deliveryClaimRead(id: Expression<string>): Expression<CarriedDelivery> {
  const tables = expressionBuilder<LedgerTables & PreferenceTables, never>()
  return tables
    .selectFrom(`${DELIVERY_TABLE} as d`)
    .select((eb) =>
      sql<CarriedDelivery['v']>`json_build_array(${sql.join(
        CARRIED_COLUMNS.map((column) => sql.ref(`d.${column}`)),
      )}, ${eb
        .selectFrom(`${PREFERENCE_TABLE} as p`)
        .select(
          sql`json_agg(json_build_array(${sql.ref('p.category')}, ${sql.ref('p.channel')}, ${sql.ref('p.enabled')}))`.as(
            'choices',
          ),
        )
        .whereRef('p.recipient_id', '=', 'd.recipient_id')})`.as('v'),
    )
    .where('d.id', '=', id)
    .where('d.status', 'in', CLAIMABLE)
}

/** How an attempt ended, as the ledger records it. */
export interface AttemptOutcome {
  readonly id: string
  /** The delivery's attempt this was, counting the attempts of every job it had. */
  readonly attempt: number
  /** The replay of the delivery whose job made it (0: the first job); see {@link Claim}. */
  readonly replay: number
  readonly status: 'sent' | 'failed' | 'dead' | 'suppressed'
  readonly providerMessageId?: string | undefined
  readonly error?: string | undefined
  /**
   * The `sending` mark the attempt holds ({@link Mark}), when it took one: its outcome is
   * recorded only while the row is still marked by it. Without one, an outcome is recorded
   * unless another attempt's mark holds the row.
   */
  readonly token?: string | undefined
  /**
   * An attempt under its mark whose message may have gone out (a transient failure once it was
   * on its way, a send given up at its bound): its token stays on the row, so whichever attempt
   * sends next (a retry, a takeover, a replay's) counts a possible duplicate. Failed, the mark's
   * lease ends now instead of being cleared, so the row reads as `failed`. Any other outcome of
   * a marked attempt (sent, refused, certainly not accepted) clears the token.
   */
  readonly maybeSent?: boolean | undefined
  /**
   * Its channel marks its sends (it takes no idempotency keys): the row may count more attempts
   * than the job does (a run took a mark over), and its result keeps them.
   */
  readonly markedChannel?: boolean | undefined
}

/**
 * What marking a delivery `sending` found: the mark is this attempt's (`token`; `attempt`: the
 * delivery's attempts with this one, counting those that marked it and vanished; `sentTo`: whom
 * earlier attempts sent it to besides its recipient, see {@link DeliveryLedger.keepSentTo}), or
 * another attempt's, held until `busyUntil` (ms): that attempt may be sending it now, so this
 * one must not. `undefined`: nothing to send any more (finished, or replayed to a newer job).
 */
export type Mark =
  | {
      readonly held: true
      readonly token: string
      readonly attempt: number
      readonly sentTo: readonly string[] | undefined
    }
  | { readonly held: false; readonly busyUntil: number }
  | undefined

/** What recording a job's death found: the row it ended, or another attempt's mark holding it. */
export type Burial = { readonly row: DeliveryRow } | { readonly busyUntil: number } | undefined

/**
 * Renders again the message of a delivery that went dead when written, without one (see
 * {@link DeliveryLedger.requeue}), in the replay's transaction: the message and the sealed
 * address to store, or why it cannot be replayed.
 */
export type Rerender = (
  db: Kysely<unknown>,
  row: Pick<DeliveryRow, 'id' | 'type' | 'channel' | 'recipient_id' | 'idempotency_key'>,
) => Promise<{ readonly message: string; readonly address: string } | { readonly reason: string }>

interface MarkRequest extends Claim {
  readonly attempt: number
  readonly token: string
  readonly until: number
}

/**
 * A delivery as one job holds it: its id and the replay the job was enqueued for. Only the job of
 * the newest replay may mark, send or record a result: `replay()` counts up the row's `replays`
 * in the transaction that enqueues its new job, so an earlier job of the delivery (a dead job
 * retried by `mortar jobs retry`, a job its engine runs again) writes nothing and sends nothing.
 */
export interface Claim {
  readonly id: string
  readonly replay: number
}

/** Counts of the ledger by channel and status (the body of `mortar notify status`). */
export interface LedgerStatus {
  readonly counts: readonly {
    readonly channel: ChannelName
    readonly status: DeliveryStatus
    readonly count: number
  }[]
  /** Attempts that may have sent a message twice (a worker died mid-send), by channel. */
  readonly possibleDuplicates: readonly { readonly channel: ChannelName; readonly count: number }[]
  /**
   * Digest batches not gone out, by digest and status: `open` ones collect items until they
   * close; `orphaned` ones were closed unsent (their digest is not registered) and their items
   * wait for it to be registered again.
   */
  readonly digests: readonly DigestBatchCount[]
}

/** Options of {@link DeliveryLedger.list}. */
export interface DeliveryListOptions {
  readonly status?: DeliveryStatus
  readonly channel?: ChannelName
  /** 50 by default, at most 500. */
  readonly limit?: number
}

const NO_PREFERENCES: readonly PreferenceEntry[] = []

/** A line of `load`'s read: a delivery's row with one of its recipient's choices, or none. */
type LoadedLine = SendableRow & {
  readonly preference_category: string | null
  readonly preference_channel: string | null
  readonly preference_enabled: unknown
}
// `sending`: marked before a send on a channel without idempotency keys; such a row is sent
// again only once its mark's lease passed (see `markFree`).
const CLAIMABLE: readonly DeliveryStatus[] = ['queued', 'failed', 'sending']
const FINAL: ReadonlySet<DeliveryStatus> = new Set(['sent', 'dead', 'suppressed'])
// Rows changed (a result recorded, a mark, a prune's deletion) between two vacuums of the table
// on PostgreSQL, as core's queue does for its own: see ChurnVacuum.
const VACUUM_EVERY = 5_000
// Ids a statement of `requeue` names at most.
const REQUEUE_CHUNK = 1_000

/**
 * The delivery ledger's rows: written by `notify()` in the caller's transaction, read by
 * delivery jobs in batches (one statement for the delivery jobs of one claim) and finished with the jobs' completion, read by `deliveries()` and
 * `mortar notify status`.
 */
export class DeliveryLedger {
  readonly #database: Database
  readonly #clock: Clock
  readonly #finishUnflushed: boolean
  readonly #marks: Batcher<MarkRequest, Mark>
  readonly #finishes: Batcher<AttemptOutcome, boolean>
  /**
   * Every delivery's row is updated (its result) and in the end deleted (`prune`): without
   * autovacuum the dead versions would pile up for good, in the table and in its indexes.
   */
  readonly #upkeep: ChurnVacuum
  /**
   * The results UPDATE on PostgreSQL by variant (see `#resultsUpdate`), as its text around its
   * values: built with the query builder and compiled for every batch, it cost the worker more
   * than the rest of the write; now each batch only fills in its values. Per ledger, so each
   * app's text is compiled with its own Kysely plugins.
   */
  readonly #pgResults = new Map<number, { fragments: string[]; slots: ResultsSlot[] }>()
  /** The read of `load` on PostgreSQL, compiled once (see `load`). */
  #pgRead: CompiledQuery<LoadedLine> | undefined

  /**
   * `jobsInSameDatabase`: the delivery jobs are rows of the same database (the SQL queue), so a
   * job's completion, a durable commit after the result's, also makes the result durable.
   */
  constructor(
    database: Database,
    clock: Clock,
    options: { jobsInSameDatabase: boolean; logger: Logger },
  ) {
    this.#database = database
    this.#clock = clock
    this.#finishUnflushed = options.jobsInSameDatabase
    this.#upkeep = new ChurnVacuum({
      database,
      table: DELIVERY_TABLE,
      every: VACUUM_EVERY,
      // Its workers' statements find rows by id (probes planned so whatever the statistics say,
      // see `idIn`), the rest scan it anyway: an analyze of up to 30,000 rows each vacuum was a
      // tenth of the server's work a delivery, for plans it never changed.
      analyze: false,
      logger: options.logger,
    })
    this.#marks = new Batcher((marks) => this.#markBatch(marks))
    this.#finishes = new Batcher((outcomes) => this.#finishBatch(outcomes))
  }

  /** The transaction-aware Kysely: inside `transaction()` it writes in the caller's transaction. */
  get #db(): Kysely<LedgerTables> {
    return this.#database.kysely as Kysely<LedgerTables>
  }

  /**
   * The background pool, never a caller's transaction: for the workers' own statements (on
   * MariaDB read committed, so they take no gap locks that a notify() would wait for).
   */
  get #background(): Kysely<LedgerTables> {
    return this.#database.background as Kysely<LedgerTables>
  }

  /**
   * The INSERT of rows with fresh ids and no idempotency key (nothing to skip), for core's
   * jobs to send with the rows' delivery jobs: one statement on PostgreSQL.
   */
  insertion(rows: readonly DeliveryRow[]): CompanionWrite {
    return deliveryInsertion(
      this.#db as Kysely<unknown>,
      this.#database.root as Kysely<unknown>,
      rows,
    )
  }

  /** Writes rows; those that break an idempotency key are skipped. Returns the ids written. */
  async insert(rows: readonly DeliveryRow[]): Promise<ReadonlySet<string>> {
    if (rows.length === 0) return new Set()
    if (!rows.some((row) => row.idempotency_key !== null)) {
      await this.insertion(rows).execute()
      return new Set(rows.map((row) => row.id))
    }
    const db = this.#db as Kysely<unknown>
    const engine = sqlEngine(db)
    const insert = keyedDeliveryInsert(engine, this.#database.root as Kysely<unknown>, rows)
    // PostgreSQL and SQLite return only the rows a conflict did not skip.
    if (engine !== 'mysql') {
      const written = await executePrepared(db, insert)
      return new Set(written.rows.map((row) => String(row.id)))
    }
    await db.executeQuery(insert.compile())
    // Our own rows are visible to us at every isolation level: a missing one was skipped.
    const written = await this.#db
      .selectFrom(DELIVERY_TABLE)
      .select('id')
      .where(
        'id',
        'in',
        rows.map((row) => row.id),
      )
      .execute()
    return new Set(written.map((row) => row.id))
  }

  /** The ids of earlier deliveries with this idempotency key, by `recipient|channel`. */
  async keyed(key: string, recipientIds: readonly string[]): Promise<Map<string, string>> {
    let query = this.#db
      .selectFrom(DELIVERY_TABLE)
      .select(['id', 'recipient_id', 'channel'])
      .where('idempotency_key', '=', key)
      .where('recipient_id', 'in', [...new Set(recipientIds)])
    // MySQL's repeatable read would hide a row committed by a concurrent notify(); a locking
    // read sees it.
    if (sqlEngine(this.#db as Kysely<unknown>) === 'mysql') query = query.forUpdate()
    const rows = await query.execute()
    return new Map(rows.map((row) => [`${row.recipient_id}|${row.channel}`, row.id]))
  }

  /**
   * Reads deliveries for attempts of their jobs (those one claim took, in one statement), each
   * with its recipient's preferences; `undefined` for one with nothing to send (sent, dead,
   * suppressed or gone). Nothing is written: the attempt is the delivery job's, which the queue
   * leases and counts, so `sending` is read from the job (see `Deliveries`); see
   * {@link DeliveryLedger.mark}. Where the claim of their jobs carried the rows, they are not
   * read again (see {@link carriedRow}).
   */
  async load(ids: readonly string[]): Promise<(LoadedDelivery | undefined)[]> {
    if (ids.length === 0) return []
    const background = this.#database.background as Kysely<unknown>
    // One text for every batch on PostgreSQL (the ids are one array), so it runs prepared: planned
    // per call it cost the server more than running it. There it is also built and compiled once,
    // each batch only giving its ids: built for every claim it cost the worker more than the
    // read's rows (engines without that array write one placeholder an id: built each time).
    let read: Compilable<LoadedLine>
    if (sqlEngine(background) === 'postgres') {
      this.#pgRead ??= this.#read([]).compile()
      const parameters = this.#pgRead.parameters.map((value) =>
        Array.isArray(value) ? [...new Set(ids)] : value,
      )
      read = { compile: () => ({ ...(this.#pgRead as CompiledQuery<LoadedLine>), parameters }) }
    } else read = this.#read(ids)
    const { rows } = await executePrepared(background, read)
    // One line per stored choice of the recipient (one with nulls when there is none). A line is
    // handed on as the delivery's row, choices and all: a copy without them was garbage a delivery.
    const deliveries = new Map<string, SendableRow>()
    const choices: { owner: string; category: string; channel: string; enabled: unknown }[] = []
    for (const row of rows) {
      deliveries.set(row.id, row)
      if (row.preference_category !== null && row.preference_channel !== null) {
        choices.push({
          owner: row.id,
          category: row.preference_category,
          channel: row.preference_channel,
          enabled: row.preference_enabled,
        })
      }
    }
    const preferences = choices.length === 0 ? undefined : groupByOwner(choices)
    return ids.map((id) => {
      const row = deliveries.get(id)
      return row === undefined
        ? undefined
        : { row, preferences: preferences?.get(id) ?? NO_PREFERENCES }
    })
  }

  /** The read of {@link DeliveryLedger.load}: the rows of `ids` still to send, a line per choice. */
  #read(ids: readonly string[]) {
    const background = this.#database.background as Kysely<LedgerTables & PreferenceTables>
    return background
      .selectFrom(rowsById<DeliveryRow>(background as Kysely<unknown>, DELIVERY_TABLE, ids).as('d'))
      .leftJoin(`${PREFERENCE_TABLE} as p`, 'p.recipient_id', 'd.recipient_id')
      .select(SENDABLE_COLUMNS.map((column) => `d.${column}` as const))
      .select([
        'p.category as preference_category',
        'p.channel as preference_channel',
        'p.enabled as preference_enabled',
      ])
      .where('d.status', 'in', CLAIMABLE)
  }

  /**
   * Marks a delivery `sending` for this attempt before a send on a channel without idempotency
   * keys, for `leaseMs` (longer than the send may take): until then no other attempt may mark
   * it, so a second run of its job at once does not send it too, and only this attempt's result
   * is recorded. A mark whose lease passed with no result (its worker died mid-send) is taken
   * over and counted as a possible duplicate, as is any send after an attempt whose message may
   * have gone out (see {@link AttemptOutcome.maybeSent}). The attempts counted are at least one
   * more than the row's: a run whose job's attempt did not go up (its engine ran it again) still
   * counts as one after the attempt whose mark it took over.
   */
  mark(claim: Claim, attempt: number, leaseMs: number): Promise<Mark> {
    return this.#marks.call({
      ...claim,
      attempt,
      token: randomUUID(),
      until: this.#clock.nowMs() + leaseMs,
    })
  }

  /**
   * Keeps with the delivery the addresses besides its recipient's that a provider took its
   * message for while it did not take it for the recipient (a mail's cc and bcc): `sentTo`, all
   * of them (those its mark read with the attempt's own). Written before the attempt's result,
   * by the attempt holding the mark (`claim.token`) alone, so no other write races it; every
   * later mark reads them back (a retry, a takeover, a replay's), so no later send goes to them
   * again. False when the row is no longer the attempt's (its mark taken over, replayed): the
   * attempt that took it sends as it would have, counted as a possible duplicate.
   */
  async keepSentTo(
    claim: Claim & { readonly token: string },
    sentTo: readonly string[],
  ): Promise<boolean> {
    const result = await this.#background
      .updateTable(DELIVERY_TABLE)
      .set({ sent_to: JSON.stringify(sentTo), updated_at: this.#clock.nowMs() })
      .where('id', '=', claim.id)
      .where('replays', '=', claim.replay)
      .where('sending_token', '=', claim.token)
      .executeTakeFirst()
    const changed = Number(result.numUpdatedRows)
    this.#upkeep.count(changed)
    return changed > 0
  }

  /**
   * Records how an attempt ended, now (an attempt whose job will fail and be retried, a marked
   * attempt, a sent one whose event waits for it). True when it did; false when the row was no
   * longer the attempt's to finish (another run recorded a result, took its mark over, or a
   * replay requeued it): what it tells of then is not the ledger's.
   */
  finish(outcome: AttemptOutcome): Promise<boolean> {
    return this.#finishes.call(outcome)
  }

  /**
   * Records the acceptance of a send that its attempt gave up at its bound, while the row is
   * still as that attempt left it: marked by it (`outcome.token`), failed or dead. True when it
   * did; false once another attempt took the mark over or a replay the row (that attempt's send
   * counts as a possible duplicate), or a result is already there.
   */
  async recordLate(outcome: AttemptOutcome): Promise<boolean> {
    const write = this.#resultsUpdate(this.#background, [outcome], { kept: true, late: true })
    const result = await sql`${write}`.execute(this.#background)
    const changed = Number(result.numAffectedRows ?? 0)
    this.#upkeep.count(changed)
    return changed > 0
  }

  /**
   * Records an end that came from the jobs engine, not from an attempt (the delivery's job died):
   * the row this ended; `busyUntil` when another attempt's `sending` mark holds the row (that
   * attempt records its own result); `undefined` when it was already finished (or is gone).
   */
  async bury(outcome: AttemptOutcome): Promise<Burial> {
    const result =
      await sql`${this.#resultsUpdate(this.#background, [outcome], { kept: true })}`.execute(
        this.#background,
      )
    const changed = Number(result.numAffectedRows ?? 0)
    this.#upkeep.count(changed)
    const row = await this.#background
      .selectFrom(DELIVERY_TABLE)
      .selectAll()
      .where('id', '=', outcome.id)
      .executeTakeFirst()
    if (row === undefined) return undefined
    if (changed > 0) return { row }
    if (Number(row.replays) === outcome.replay && markHolds(row, this.#clock.nowMs())) {
      return { busyUntil: Number(row.sending_until) }
    }
    return undefined
  }

  /**
   * Records how attempts ended, as one write that core's jobs send with the completion of the
   * delivery jobs (`job.completeWith`): the handler waits for no write of its own, and the
   * result commits exactly when its job is finished. Run alone (an engine in another store,
   * BullMQ), it runs prepared on the background pool, as the workers' other statements: on
   * PostgreSQL its text is the same for every batch.
   */
  readonly results: CompletionWrite<AttemptOutcome> = (outcomes) => {
    this.#upkeep.count(outcomes.length)
    const write = this.#resultsUpdate(this.#db, outcomes)
    return {
      toOperationNode: () => write.toOperationNode(),
      execute: () => executePrepared(this.#background as Kysely<unknown>, write),
    }
  }

  async #markBatch(marks: readonly MarkRequest[]): Promise<Mark[]> {
    const now = this.#clock.nowMs()
    // One mark per delivery: of two runs of one delivery's job in one batch, one marks it.
    const newest = newestReplays(marks)
    const chosen = [...newest.values()]
    const ids = [...newest.keys()]
    const engine = sqlEngine(this.#background as Kysely<unknown>)
    const byId = (column: keyof DeliveryRow, value: (mark: MarkRequest) => unknown) =>
      sql<never>`case ${sql.ref('id')} ${sql.join(
        chosen.map((mark) => sql`when ${mark.id} then ${value(mark)}`),
        sql` `,
      )} else ${sql.ref(column)} end`
    // SET order matters on MySQL, which reads columns already assigned: the duplicate count first.
    // A row still holding a token had an attempt that marked it and may have sent it.
    const update = this.#background
      .updateTable(DELIVERY_TABLE)
      .set({
        possible_duplicates: sql<number>`possible_duplicates + case when status = 'sending' or sending_token is not null then 1 else 0 end`,
        attempts: byId(
          'attempts',
          (mark) => sql`${greatest(engine)}(attempts + 1, ${mark.attempt})`,
        ),
        sending_until: byId('sending_until', (mark) => mark.until),
        sending_token: byId('sending_token', (mark) => mark.token),
        // The attempt's own error, if any, comes with its result.
        last_error: null,
        status: 'sending',
        updated_at: now,
      })
      .where(idIn(this.#background as Kysely<unknown>, 'id', ids))
      .where(markFree(now))
      .where(ofReplays(chosen))
    // The attempts counted and whom earlier attempts sent it to, by delivery marked.
    type Marked = Pick<DeliveryRow, 'id' | 'attempts' | 'sent_to'>
    let marked: ReadonlyMap<string, Marked>
    const counted = (rows: readonly Marked[]) => new Map(rows.map((row) => [row.id, row]))
    const returned = ['id', 'attempts', 'sent_to'] as const
    // The mark only has to outlive the worker, not the server: a server crash loses the send's
    // record too, and the job runs again. On PostgreSQL it does not wait for the disk.
    if (engine === 'postgres')
      marked = counted(await update.where(unflushedCommit).returning(returned).execute())
    else if (engine !== 'mysql') marked = counted(await update.returning(returned).execute())
    else {
      await update.execute()
      marked = new Map()
    }
    this.#upkeep.count(marked.size)
    // The rows not marked (all of them on MySQL, which returns none): whose mark holds them.
    const unmarked = ids.filter((id) => !marked.has(id))
    const rows =
      unmarked.length === 0
        ? []
        : await this.#background
            .selectFrom(DELIVERY_TABLE)
            .select([
              'id',
              'status',
              'attempts',
              'replays',
              'sending_until',
              'sending_token',
              'sent_to',
            ])
            .where('id', 'in', unmarked)
            .execute()
    const found = new Map(rows.map((row) => [row.id, row]))
    return marks.map((mark): Mark => {
      const winner = newest.get(mark.id) as MarkRequest
      const row = found.get(mark.id)
      const taken =
        row?.status === 'sending' && row.sending_token === winner.token ? row : marked.get(mark.id)
      if (taken !== undefined) {
        if (winner === mark) {
          return {
            held: true,
            token: mark.token,
            attempt: Number(taken.attempts),
            sentTo: taken.sent_to === null ? undefined : (JSON.parse(taken.sent_to) as string[]),
          }
        }
        // The other run of this delivery in the same batch marked it.
        return winner.replay === mark.replay ? { held: false, busyUntil: winner.until } : undefined
      }
      return row !== undefined && Number(row.replays) === mark.replay && markHolds(row, now)
        ? { held: false, busyUntil: Number(row.sending_until) }
        : undefined
    })
  }

  async #finishBatch(outcomes: readonly AttemptOutcome[]): Promise<boolean[]> {
    const background = this.#background
    const engine = sqlEngine(background as Kysely<unknown>)
    // The job's own failure or completion comes after this, as a durable commit of the same PostgreSQL, and
    // flushing the log up to it flushes this commit too: waiting for the disk here would only
    // hold the worker's slot for a second flush. A server crash before that flush loses both,
    // and the job runs again, as after any crash mid-send. Not for a sent result: its event is
    // published once it is recorded, and must not tell of a result a crash can take back.
    const unflushed =
      this.#finishUnflushed &&
      engine === 'postgres' &&
      !outcomes.some((outcome) => outcome.status === 'sent')
    const nowMs = this.#clock.nowMs()
    const write = (db: Kysely<LedgerTables>, returning: boolean) =>
      this.#resultsUpdate(db, outcomes, { kept: true, unflushed, nowMs, returning })
    // The rows this write changed: each outcome is told whether it was recorded.
    let recorded: ReadonlySet<string>
    if (engine !== 'mysql') {
      const { rows } = await write(background, true).execute(background)
      recorded = new Set((rows as { id: string }[]).map((row) => row.id))
    } else {
      // No RETURNING on an UPDATE: the rows it will change, read and locked first.
      recorded = await background.transaction().execute(async (trx) => {
        const newest = [...newestReplays(outcomes).values()]
        const rows = await trx
          .selectFrom(DELIVERY_TABLE)
          .select('id')
          .where(
            'id',
            'in',
            newest.map((outcome) => outcome.id),
          )
          .where(ofResults(newest, nowMs, markedStatus(false)))
          .forUpdate()
          .execute()
        await write(trx, false).execute(trx)
        return new Set(rows.map((row) => row.id))
      })
    }
    this.#upkeep.count(outcomes.length)
    // Of two outcomes of one delivery in a batch, the one the write took (see `#resultsUpdate`).
    const newest = newestReplays(outcomes)
    return outcomes.map((outcome) => recorded.has(outcome.id) && newest.get(outcome.id) === outcome)
  }

  /**
   * The UPDATE recording outcomes, for deliveries still in a claimable status. On PostgreSQL the
   * outcomes travel as one JSON parameter (`json_to_recordset`), the ids as one JSON array,
   * however many rows, where a `case` per column takes two per row and column; the rows are found
   * by primary-key probes, never a scan of the table (`idIn`'s form of an array, written out, as
   * the ids are a slot of the text written once). `kept`: the attempts counted never go down
   * (a mark taken over counted one more than its job's attempt), for the writes that may follow
   * a takeover: a marked attempt's own (which carries its mark's count anyway), a job's death,
   * and, by itself, a statement with an outcome on a marked channel; so the usual one (a channel
   * with idempotency keys) is unchanged. `late`: the outcomes are late answers of marked
   * attempts (see `recordLate`), recorded over their own dead result too.
   */
  #resultsUpdate(
    db: Kysely<LedgerTables>,
    given: readonly AttemptOutcome[],
    options: {
      kept?: boolean
      unflushed?: boolean
      late?: boolean
      /** The time its conditions read (now by default). */
      nowMs?: number
      /** It returns the ids of the rows it changed (not on MySQL, which cannot). */
      returning?: boolean
    } = {},
  ): RawBuilder<unknown> {
    // The only condition, so the variant below names every text the statement can have.
    const condition = options.unflushed === true ? unflushedCommit : undefined
    const held = markedStatus(options.late === true)
    const now = options.nowMs ?? this.#clock.nowMs()
    const returning = options.returning === true
    // An earlier replay's outcome beside a newer one of the same delivery is stale: left out,
    // so each delivery has one outcome, which the row's `replays` must match.
    const outcomes = [...newestReplays(given).values()]
    let kept = options.kept === true
    // Only a statement with such outcomes sets the mark's lease (to end now) or its token, so
    // the usual one (no marks: a channel with idempotency keys) is unchanged.
    let lapsing = false
    let settling = false
    // Indexed loops: this runs once a batch, rarely optimized, where each step of a `for…of`
    // allocates its iterator's result.
    for (let index = 0; index < given.length; index++) {
      if ((given[index] as AttemptOutcome).markedChannel === true) kept = true
    }
    for (let index = 0; index < outcomes.length; index++) {
      const outcome = outcomes[index] as AttemptOutcome
      if (lapses(outcome)) lapsing = true
      if (settles(outcome)) settling = true
    }
    // The engine of the database this ledger is on, whichever of its pools `db` is.
    const engine = this.#database.engine ?? sqlEngine(db as Kysely<unknown>)
    if (engine === 'postgres') {
      // The outcomes as one JSON parameter (a key left out reads as null), the ids as another:
      // node-postgres wrote seven arrays, and the ids twice, element by element, escaping each.
      // The usual batch (every outcome a send accepted without a mark) has its own text, whose
      // outcomes carry only what differs between them: half the keys to write and to read back.
      let accepted = true
      for (let index = 0; accepted && index < outcomes.length; index++) {
        const o = outcomes[index] as AttemptOutcome
        accepted = o.status === 'sent' && o.token === undefined && o.error === undefined
      }
      const rows = new Array<object>(outcomes.length)
      const ids = new Array<string>(outcomes.length)
      for (let index = 0; index < outcomes.length; index++) {
        const o = outcomes[index] as AttemptOutcome
        const providerMessageId =
          o.providerMessageId === undefined ? undefined : storedProviderId(o.providerMessageId)
        ids[index] = o.id
        rows[index] = accepted
          ? {
              id: o.id,
              attempts: o.attempt,
              replays: o.replay,
              provider_message_id: providerMessageId,
            }
          : {
              id: o.id,
              status: stored(o),
              attempts: o.attempt,
              provider_message_id: providerMessageId,
              last_error: o.error === undefined ? undefined : storedReason(o.error),
              replays: o.replay,
              token: o.token,
              settles: settling ? settles(o) : undefined,
            }
      }
      // One bit each: kept, lapsing, settling, late, unflushed, returning, accepted.
      const variant =
        (kept ? 1 : 0) |
        (lapsing ? 2 : 0) |
        (settling ? 4 : 0) |
        (options.late === true ? 8 : 0) |
        (condition === undefined ? 0 : 16) |
        (returning ? 32 : 0) |
        (accepted ? 64 : 0)
      let statement = this.#pgResults.get(variant)
      if (statement === undefined) {
        const attempts = kept ? sql`greatest(d.attempts, v.attempts)` : sql`v.attempts`
        const found = sql`d.id = any(array(select json_array_elements_text(${IDS}::json))) and d.id = v.id and d.replays = v.replays`
        const tail = sql`${condition === undefined ? sql`` : sql` and ${condition}`}${returning ? sql` returning d.id` : sql``}`
        statement = textAroundValues(
          db as Kysely<unknown>,
          accepted
            ? sql`update ${sql.table(DELIVERY_TABLE)} as d
        set status = 'sent', attempts = ${attempts}, provider_message_id = v.provider_message_id,
          last_error = null, sent_at = ${NOW}::bigint, updated_at = ${NOW}
        from json_to_recordset(${OUTCOMES}::json) as v(id text, attempts integer, replays integer,
          provider_message_id text)
        where ${found} and ${markFree(NOW, 'd')}${tail}`
            : sql`update ${sql.table(DELIVERY_TABLE)} as d
        set status = v.status, attempts = ${attempts}, provider_message_id = v.provider_message_id,
          last_error = v.last_error, sent_at = case when v.status = 'sent' then ${NOW}::bigint end,
          updated_at = ${NOW}${lapsing ? sql`, sending_until = case when v.status = 'sending' then ${NOW}::bigint else d.sending_until end` : sql``}${settling ? sql`, sending_token = case when v.settles then null else d.sending_token end` : sql``}
        from json_to_recordset(${OUTCOMES}::json) as v(id text, status text, attempts integer,
          provider_message_id text, last_error text, replays integer, token text, settles boolean)
        where ${found}
          and case when v.token is null then ${markFree(NOW, 'd')} else ${held(sql.ref('d.status'))} and d.sending_token = v.token end${tail}`,
        )
        this.#pgResults.set(variant, statement)
      }
      const json = JSON.stringify(rows)
      const node = RawNode.create(
        statement.fragments,
        statement.slots.map((slot) =>
          ValueNode.create(slot === OUTCOMES ? json : slot === IDS ? JSON.stringify(ids) : now),
        ),
      )
      return sql`${{ toOperationNode: () => node }}`
    }
    const caseOf = (
      column: keyof DeliveryRow,
      value: (outcome: AttemptOutcome) => unknown,
    ): RawBuilder<unknown> =>
      sql`case ${sql.ref('id')} ${sql.join(
        outcomes.map((outcome) => sql`when ${outcome.id} then ${value(outcome)}`),
        sql` `,
      )} else ${sql.ref(column)} end`
    const update = db
      .updateTable(DELIVERY_TABLE)
      .set({
        status: caseOf('status', stored) as never,
        attempts: caseOf('attempts', (outcome) =>
          kept ? sql`${greatest(engine)}(attempts, ${outcome.attempt})` : outcome.attempt,
        ) as never,
        provider_message_id: caseOf('provider_message_id', (outcome) =>
          providerId(outcome.providerMessageId),
        ) as never,
        last_error: caseOf('last_error', (outcome) => truncate(outcome.error)) as never,
        sent_at: caseOf('sent_at', (outcome) => (outcome.status === 'sent' ? now : null)) as never,
        updated_at: now,
      })
      .where(
        'id',
        'in',
        outcomes.map((outcome) => outcome.id),
      )
      .where(ofResults(outcomes, now, held))
      .$if(lapsing, (query) =>
        query.set({
          sending_until: caseOf('sending_until', (outcome) =>
            lapses(outcome) ? now : sql.ref('sending_until'),
          ) as never,
        }),
      )
      .$if(settling, (query) =>
        query.set({
          sending_token: caseOf('sending_token', (outcome) =>
            settles(outcome) ? null : sql.ref('sending_token'),
          ) as never,
        }),
      )
      .$if(condition !== undefined, (query) => query.where(condition as RawBuilder<boolean>))
    return returning ? sql`${update} returning id` : sql`${update}`
  }

  /** One delivery by id. */
  async get(id: string): Promise<DeliveryRecord | undefined> {
    const row = await this.#db
      .selectFrom(DELIVERY_TABLE)
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()
    return row === undefined ? undefined : toDeliveryRecord(row, this.#clock.nowMs())
  }

  /** The recipient's deliveries (under any of these ids), newest first. */
  async list(
    recipientIds: readonly string[],
    options: DeliveryListOptions = {},
  ): Promise<DeliveryRecord[]> {
    let query = this.#db
      .selectFrom(DELIVERY_TABLE)
      .selectAll()
      .where('recipient_id', 'in', recipientIds)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.min(500, Math.max(1, options.limit ?? 50)))
    const now = this.#clock.nowMs()
    const wanted = options.status
    if (wanted !== undefined) query = query.where((eb) => eb(readStatus(now), '=', wanted))
    if (options.channel !== undefined) query = query.where('channel', '=', options.channel)
    return (await query.execute()).map((row) => toDeliveryRecord(row, now))
  }

  /** Dead deliveries, oldest first. */
  async dead(limit = 100): Promise<DeliveryRecord[]> {
    const rows = await this.#db
      .selectFrom(DELIVERY_TABLE)
      .selectAll()
      .where('status', '=', 'dead')
      .orderBy('updated_at')
      .limit(limit)
      .execute()
    const now = this.#clock.nowMs()
    return rows.map((row) => toDeliveryRecord(row, now))
  }

  /** The channel and status of these deliveries, as read now (see `toDeliveryRecord`). */
  async statusOf(
    ids: readonly string[],
  ): Promise<{ id: string; channel: ChannelName; status: DeliveryStatus }[]> {
    if (ids.length === 0) return []
    const rows = await this.#db
      .selectFrom(DELIVERY_TABLE)
      .select(['id', 'channel', readStatus(this.#clock.nowMs()).as('status')])
      .where('id', 'in', [...ids])
      .execute()
    return rows.map((row) => ({ ...row, channel: row.channel as ChannelName }))
  }

  /**
   * Counts by channel and status (a `sending` whose mark's lease passed counts as `failed`),
   * possible duplicates by channel, unsent digest batches.
   */
  async status(): Promise<LedgerStatus> {
    // Grouped by the status read (a parameter of its own in GROUP BY would be another expression).
    const read = this.#db
      .selectFrom(DELIVERY_TABLE)
      .select(['channel', readStatus(this.#clock.nowMs()).as('status')])
      .as('d')
    const counts = await this.#db
      .selectFrom(read)
      .select([
        'd.channel',
        'd.status',
        (eb) => eb.fn.countAll<number | string | bigint>().as('count'),
      ])
      .groupBy(['d.channel', 'd.status'])
      .orderBy('d.channel')
      .orderBy('d.status')
      .execute()
    const duplicates = await this.#db
      .selectFrom(DELIVERY_TABLE)
      .select([
        'channel',
        (eb) => eb.fn.sum<number | string | bigint>('possible_duplicates').as('count'),
      ])
      .where('possible_duplicates', '>', 0)
      .groupBy('channel')
      .orderBy('channel')
      .execute()
    return {
      counts: counts.map((row) => ({
        channel: row.channel as ChannelName,
        status: row.status,
        count: Number(row.count),
      })),
      possibleDuplicates: duplicates.map((row) => ({
        channel: row.channel as ChannelName,
        count: Number(row.count),
      })),
      digests: await unsentDigestCounts(this.#db as Kysely<unknown>),
    }
  }

  /**
   * Up to `limit` ids of dead deliveries after `after`, by id: a page of `'all-dead'`'s replay.
   * Read without locks (a locking read by status would lock every row it scans on MariaDB):
   * {@link DeliveryLedger.requeue} locks them by id and leaves out those no longer dead.
   */
  async deadIds(after: string | undefined, limit: number): Promise<string[]> {
    let query = this.#db
      .selectFrom(DELIVERY_TABLE)
      .select('id')
      .where('status', '=', 'dead')
      .orderBy('id')
      .limit(limit)
    if (after !== undefined) query = query.where('id', '>', after)
    return (await query.execute()).map((row) => row.id)
  }

  /**
   * Makes dead deliveries queued again (attempts kept, error kept until the next attempt) and
   * returns them with the attempts they had, for the caller to enqueue in the same transaction.
   * One dead when written, without a message, is rendered again by `rerender` first (a digest's,
   * from its batch's items); one that cannot be is left dead with the reason why, and refused
   * when `named`. A named id that is not dead is refused with the reason; otherwise (a page of
   * {@link DeliveryLedger.deadIds}) one no longer dead is left out.
   */
  async requeue(
    ids: readonly string[],
    rerender: Rerender,
    named: boolean,
  ): Promise<{ readonly id: string; readonly after: number; readonly replay: number }[]> {
    const now = this.#clock.nowMs()
    const wanted = [...new Set(ids)]
    if (wanted.length === 0) return []
    // By chunks of ids, in the caller's one transaction: one statement naming them all passes the
    // engine's bound-parameter limit (65,535 on PostgreSQL, 32,766 on SQLite).
    const chunks: string[][] = []
    for (let start = 0; start < wanted.length; start += REQUEUE_CHUNK) {
      chunks.push(wanted.slice(start, start + REQUEUE_CHUNK))
    }
    const read = (chunk: readonly string[]) => {
      let query = this.#db
        .selectFrom(DELIVERY_TABLE)
        .select([
          'id',
          'status',
          'message',
          'attempts',
          'replays',
          'type',
          'channel',
          'recipient_id',
          'idempotency_key',
        ])
        .where('id', 'in', chunk)
        .orderBy('id')
      // Concurrent replays of one delivery: the rows are locked and read as committed, so a
      // replay that waited sees the winner's `queued` and enqueues no second job (which could
      // send the message twice). SQLite's transactions already run one at a time (BEGIN IMMEDIATE).
      if (sqlEngine(this.#db as Kysely<unknown>) !== 'sqlite') query = query.forUpdate()
      return query.execute()
    }
    let rows: Awaited<ReturnType<typeof read>> = []
    for (const chunk of chunks) rows = rows.concat(await read(chunk))
    if (!named) {
      rows = rows.filter((row) => row.status === 'dead')
    } else {
      const found = new Map(rows.map((row) => [row.id, row]))
      for (const id of ids) {
        const row = found.get(id)
        if (row === undefined) throw new DeliveryNotFoundError(id)
        if (row.status !== 'dead') throw new DeliveryNotReplayableError(id, row.status)
      }
    }
    const targets: typeof rows = []
    for (const row of rows) {
      if (row.message !== '') {
        targets.push(row)
        continue
      }
      // Dead when written (its renderer threw, its message was refused): rendered again if it can be.
      const rendered = await rerender(this.#db as Kysely<unknown>, row)
      if ('message' in rendered) {
        await this.#db
          .updateTable(DELIVERY_TABLE)
          .set({ message: rendered.message, address: rendered.address })
          .where('id', '=', row.id)
          .execute()
        targets.push(row)
        continue
      }
      // Named, it is refused with the reason; otherwise it is left dead as it is.
      if (named) {
        throw new DeliveryNotReplayableError(row.id, `dead without a message (${rendered.reason})`)
      }
    }
    if (targets.length === 0) return []
    const requeued = targets.map((row) => row.id)
    for (let start = 0; start < requeued.length; start += REQUEUE_CHUNK) {
      await this.#db
        .updateTable(DELIVERY_TABLE)
        .set({ status: 'queued', replays: sql<number>`replays + 1`, run_at: now, updated_at: now })
        .where('id', 'in', requeued.slice(start, start + REQUEUE_CHUNK))
        .where('status', '=', 'dead')
        .execute()
    }
    this.#upkeep.count(requeued.length)
    return targets.map((row) => ({
      id: row.id,
      after: Number(row.attempts),
      replay: Number(row.replays) + 1,
    }))
  }

  /**
   * Deletes finished deliveries (sent, dead, suppressed) last changed before `before`, a batch
   * of 1,000 at a time (`deleteInBatches`), status by status along the (status, updated_at)
   * index: one statement for them all locked every row it deleted until it ended and, without
   * autovacuum, left them all dead at once. Returns how many.
   */
  async prune(before: Date): Promise<number> {
    const at = before.getTime()
    let deleted = 0
    for (const status of FINAL) {
      deleted += await deleteInBatches(async (limit) => {
        const ids = await this.#db
          .selectFrom(DELIVERY_TABLE)
          .select('id')
          .where('status', '=', status)
          .where('updated_at', '<', at)
          .orderBy('updated_at')
          .limit(limit)
          .execute()
        if (ids.length === 0) return { read: 0, deleted: 0 }
        const result = await this.#db
          .deleteFrom(DELIVERY_TABLE)
          .where(
            idIn(
              this.#db as Kysely<unknown>,
              'id',
              ids.map((row) => row.id),
            ),
          )
          // Replayed meanwhile: kept.
          .where('status', '=', status)
          .where('updated_at', '<', at)
          .executeTakeFirst()
        const gone = Number(result.numDeletedRows)
        this.#upkeep.count(gone)
        return { read: ids.length, deleted: gone }
      })
    }
    return deleted
  }
}

// The values of the results UPDATE on PostgreSQL, as its text is written once per variant.
const OUTCOMES = 'outcomes'
const IDS = 'ids'
const NOW = 'now'
type ResultsSlot = typeof OUTCOMES | typeof IDS | typeof NOW
const SLOTS: ReadonlySet<ResultsSlot> = new Set([OUTCOMES, IDS, NOW])

/**
 * A statement whose values are the names of its slots, as the text between them (compiled
 * once: the engine's placeholders, `$1`…, mark where each value goes).
 */
function textAroundValues(
  db: Kysely<unknown>,
  statement: RawBuilder<unknown>,
): { fragments: string[]; slots: ResultsSlot[] } {
  const { sql: text, parameters } = statement.compile(db)
  const fragments = text.split(/\$\d+/)
  const slots = parameters.filter((value): value is ResultsSlot => SLOTS.has(value as ResultsSlot))
  if (fragments.length !== parameters.length + 1 || slots.length !== parameters.length) {
    throw new Error('A statement written once holds a value that is not one of its slots.')
  }
  return { fragments, slots }
}

/**
 * A condition that is always true and, once per statement (an uncorrelated subquery), makes the
 * statement's own transaction commit without waiting for the disk, in the same round trip.
 */
const unflushedCommit = sql<boolean>`exists (select 1 from (select set_config('synchronous_commit', 'off', true)) as sync)`

/** A choice a claim carried, as the preference policy reads it. */
function preferenceEntry([category, channel, enabled]: CarriedChoice): PreferenceEntry {
  return { category, channel: channel as ChannelName | '*', enabled: Boolean(Number(enabled)) }
}

/** The SQL function of the larger of its arguments: SQLite's `max` with two or more. */
function greatest(engine: SqlEngine): RawBuilder<unknown> {
  return sql.raw(engine === 'sqlite' ? 'max' : 'greatest')
}

/** Per delivery, the claim of its newest replay among these (a stale one is left out). */
function newestReplays<T extends Claim>(claims: readonly T[]): Map<string, T> {
  const newest = new Map<string, T>()
  for (let index = 0; index < claims.length; index++) {
    const claim = claims[index] as T
    const seen = newest.get(claim.id)
    if (seen === undefined || claim.replay > seen.replay) newest.set(claim.id, claim)
  }
  return newest
}

/**
 * `replays` is the claim's, for the row of each claim (one claim per delivery); compared inside
 * each branch, so PostgreSQL types the parameter from the column.
 */
function ofReplays(claims: readonly Claim[]): RawBuilder<boolean> {
  return sql<boolean>`case ${sql.ref('id')} ${sql.join(
    claims.map((claim) => sql`when ${claim.id} then ${sql.ref('replays')} = ${claim.replay}`),
    sql` `,
  )} else false end`
}

/**
 * A row an attempt without the mark may take or finish: queued or failed, or `sending` under a
 * mark whose lease passed (or from before leases): its attempt was cut off mid-send. `nowMs`
 * may be the slot of a statement written once (see `#pgResults`).
 */
function markFree(nowMs: number | typeof NOW, table?: string): RawBuilder<boolean> {
  const column = (name: string) => sql.ref(table === undefined ? name : `${table}.${name}`)
  return sql<boolean>`(${column('status')} in ('queued', 'failed') or (${column('status')} = 'sending' and (${column('sending_until')} is null or ${column('sending_until')} <= ${nowMs})))`
}

/**
 * The statuses in which a row is still the marked attempt's to finish (with its token): `sending`,
 * and for a late answer (see `recordLate`) also the `dead` its own last attempt recorded.
 */
function markedStatus(late: boolean): (status: RawBuilder<unknown>) => RawBuilder<boolean> {
  return late
    ? (status) => sql<boolean>`${status} in ('sending', 'dead')`
    : (status) => sql<boolean>`${status} = 'sending'`
}

/** The status as the app reads it at `nowMs`: a `sending` whose mark's lease passed is `failed`. */
function readStatus(nowMs: number): RawBuilder<DeliveryStatus> {
  return sql<DeliveryStatus>`case when status = 'sending' and (sending_until is null or sending_until <= ${nowMs}) then 'failed' else status end`
}

/**
 * Per outcome, that its row is of the outcome's replay and still the outcome's to record: marked
 * by its attempt, or, for an attempt that took no mark, not held by another's (see `markFree`).
 */
function ofResults(
  outcomes: readonly AttemptOutcome[],
  nowMs: number,
  held: (status: RawBuilder<unknown>) => RawBuilder<boolean>,
): RawBuilder<boolean> {
  return sql<boolean>`case ${sql.ref('id')} ${sql.join(
    outcomes.map(
      (outcome) =>
        sql`when ${outcome.id} then ${sql.ref('replays')} = ${outcome.replay} and ${
          outcome.token === undefined
            ? markFree(nowMs)
            : sql`${held(sql.ref('status'))} and ${sql.ref('sending_token')} = ${outcome.token}`
        }`,
    ),
    sql` `,
  )} else false end`
}

/** A marked attempt's failure whose message may have gone out: its mark's lease ends now. */
function lapses(outcome: AttemptOutcome): boolean {
  return outcome.maybeSent === true && outcome.status === 'failed'
}

/** The status an outcome leaves (a lapsing failure stays `sending`, read as failed). */
function stored(outcome: AttemptOutcome): DeliveryStatus {
  return lapses(outcome) ? 'sending' : outcome.status
}

/** A marked attempt whose message did not go out, or was accepted: its token goes. */
function settles(outcome: AttemptOutcome): boolean {
  return outcome.token !== undefined && outcome.maybeSent !== true
}

function truncate(text: string | undefined): string | null {
  return text === undefined ? null : storedReason(text)
}

function providerId(id: string | undefined): string | null {
  return id === undefined ? null : storedProviderId(id)
}
