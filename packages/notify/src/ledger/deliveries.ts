import { type Database, type JobDefinition, type JobQueue, ValidationError } from '@mortar/core'
import type { Kysely } from 'kysely'
import type { z } from 'zod'
import {
  DIGEST_BATCH_TABLE,
  DIGEST_ITEM_TABLE,
  type DigestBatchRecord,
  pruneDigestBatches,
  unsentDigestBatches,
} from '../digest/digest-store.js'
import type { DeliveryPayload } from './delivery-dispatcher.js'
import type { AddressSeal } from './sealed-address.js'
import { reclaimSpace } from '../sql/index.js'
import { pruneThrottle, THROTTLE_TABLE } from './throttle-counter.js'
import type {
  DeliveryLedger,
  DeliveryListOptions,
  LedgerStatus,
  Rerender,
} from './delivery-ledger.js'
import type { DeliveryRecord, DeliveryStatus } from './delivery-table.js'

// Delivery jobs held by workers at once, at most, that reads look at to show `sending`.
const HELD_LIMIT = 10_000
// Dead deliveries `replay('all-dead')` requeues per transaction.
const REPLAY_PAGE = 500
const UNFINISHED: ReadonlySet<DeliveryStatus> = new Set(['queued', 'failed', 'sending'])

/**
 * The delivery ledger as the app reads and repairs it, bound under `DELIVERIES`: a recipient's
 * deliveries with their status, attempts, provider ids and errors; counts for
 * `mortar notify status`; dead deliveries and their replay; pruning of old finished rows.
 *
 * @example
 * ```ts
 * import { DELIVERIES } from '@mortar/notify'
 *
 * const deliveries = app.resolve(DELIVERIES)
 * const mine = await deliveries.list(user.id)        // newest first
 * const dead = await deliveries.dead()
 * await deliveries.replay(dead.map((d) => d.id))     // queued again, sent by new jobs
 * await deliveries.prune(new Date(Date.now() - 30 * 86_400_000))
 * ```
 */
export class Deliveries {
  readonly #ledger: DeliveryLedger
  readonly #database: Database
  readonly #jobs: JobQueue
  readonly #deliverJob: JobDefinition<z.ZodType<DeliveryPayload>>
  readonly #seal: AddressSeal
  readonly #throttleWindows: ReadonlyMap<string, number>
  readonly #rerender: Rerender

  constructor(
    ledger: DeliveryLedger,
    database: Database,
    jobs: JobQueue,
    deliverJob: JobDefinition<z.ZodType<DeliveryPayload>>,
    seal: AddressSeal,
    /** Each throttled category's `windowMs`, so that `prune` knows which windows ended. */
    throttleWindows: ReadonlyMap<string, number>,
    /** Renders again a delivery dead when written (a digest's, from its batch's items). */
    rerender: Rerender,
  ) {
    this.#ledger = ledger
    this.#database = database
    this.#jobs = jobs
    this.#deliverJob = deliverJob
    this.#seal = seal
    this.#throttleWindows = throttleWindows
    this.#rerender = rerender
  }

  /**
   * The ids a recipient's rows may be under: an on-demand recipient's id as given (`route(…).id`
   * or the keyed id the ledger shows) is looked up keyed, and as given for rows written before
   * on-demand ids were keyed.
   */
  #idsOf(recipientId: string): string[] {
    const keyed = this.#seal.recipientId(recipientId)
    return keyed === recipientId ? [recipientId] : [keyed, recipientId]
  }

  /** One delivery by id. */
  async get(id: string): Promise<DeliveryRecord | undefined> {
    const record = await this.#ledger.get(id)
    if (record === undefined || !UNFINISHED.has(record.status)) return record
    return sendingIn([record], await this.#held())[0]
  }

  /**
   * The recipient's deliveries, newest first (50 by default). With a `status` of `queued` or
   * `failed`, those whose job a worker holds now are left out (they are `sending`); `sending`
   * lists only what is read as queued or failed, so ask without a status to see them all.
   */
  async list(recipientId: string, options: DeliveryListOptions = {}): Promise<DeliveryRecord[]> {
    if (options.limit !== undefined) checkLimit(options.limit)
    const wanted = options.status
    const { status: _, ...rest } = options
    const records = await this.#ledger.list(
      this.#idsOf(recipientId),
      wanted === undefined || wanted === 'sending' ? rest : { ...rest, status: wanted },
    )
    if (wanted !== undefined && !UNFINISHED.has(wanted)) return records
    if (!records.some((record) => UNFINISHED.has(record.status))) {
      return wanted === 'sending' ? [] : records
    }
    const read = sendingIn(records, await this.#held())
    return wanted === undefined ? read : read.filter((record) => record.status === wanted)
  }

  /**
   * The recipient's digest batches that have not gone out, soonest to close first: `open`, or
   * `orphaned` (closed unsent while their digest was not registered; their items go out with
   * the recipient's next batch once it is). Their items are no deliveries yet, so
   * {@link Deliveries.list} does not show them.
   */
  digests(recipientId: string): Promise<DigestBatchRecord[]> {
    return unsentDigestBatches(this.#database.kysely as Kysely<unknown>, this.#idsOf(recipientId))
  }

  /** Dead deliveries, oldest first. */
  async dead(limit?: number): Promise<DeliveryRecord[]> {
    if (limit !== undefined) checkLimit(limit)
    return this.#ledger.dead(limit)
  }

  /**
   * Counts by channel and status, possible duplicates by channel, and the digest batches that
   * have not gone out (open, or orphaned: closed unsent while their digest was not registered):
   * a queued or failed delivery whose job a worker holds now counts as `sending`.
   */
  async status(): Promise<LedgerStatus> {
    const [stored, held] = await Promise.all([this.#ledger.status(), this.#held()])
    if (held.size === 0) return stored
    const counts = new Map(stored.counts.map((row) => [`${row.channel}|${row.status}`, { ...row }]))
    for (const { channel, status } of await this.#ledger.statusOf([...held.keys()])) {
      if (!UNFINISHED.has(status) || status === 'sending') continue
      const from = counts.get(`${channel}|${status}`)
      if (from !== undefined) from.count -= 1
      const key = `${channel}|sending`
      const to = counts.get(key) ?? { channel, status: 'sending' as const, count: 0 }
      to.count += 1
      counts.set(key, to)
    }
    return {
      counts: [...counts.values()]
        .filter((row) => row.count > 0)
        .sort((a, b) => compare(a.channel, b.channel) || compare(a.status, b.status)),
      possibleDuplicates: stored.possibleDuplicates,
      digests: stored.digests,
    }
  }

  /**
   * The deliveries whose job a worker holds now (running, or stalled: its worker died and its
   * lease has not been taken over yet), as the jobs engine reports them, with their attempt.
   */
  async #held(): Promise<ReadonlyMap<string, number>> {
    const lists = await Promise.all(
      (['running', 'stalled'] as const).map((state) =>
        this.#jobs.list({ state, name: this.#deliverJob.name, limit: HELD_LIMIT }),
      ),
    )
    // By delivery id: the attempt being made, counting the attempts of its earlier jobs.
    const held = new Map<string, number>()
    for (const job of lists.flat()) {
      const { id, after } = (job.payload ?? {}) as { id?: unknown; after?: unknown }
      if (typeof id === 'string') {
        held.set(id, (typeof after === 'number' ? after : 0) + job.attempts)
      }
    }
    return held
  }

  /**
   * Sends dead deliveries again: each is queued with a new job (named ones in one transaction,
   * `'all-dead'` by pages of 500 ids, each in its own), the only job
   * that may send it from then on: an earlier job of the delivery that runs again (a dead job
   * retried by `mortar jobs retry`, a job its engine runs twice) finds it is no longer its own
   * and sends nothing. A digest's delivery that went dead when written (its renderer threw) is
   * rendered again from its batch's items, kept until it is sent or pruned. Refuses an unknown
   * id (`E_DELIVERY_NOT_FOUND`), one that is not dead, or one dead without a message that cannot
   * be rendered again (`E_DELIVERY_NOT_REPLAYABLE`, with the reason); `'all-dead'` leaves those.
   * Returns how many were queued.
   */
  async replay(ids: string | readonly string[] | 'all-dead'): Promise<number> {
    if (ids !== 'all-dead') return this.#requeue(typeof ids === 'string' ? [ids] : ids, true)
    // By pages of ids, each in its own transaction: one statement naming every dead id passes
    // the engine's bound-parameter limit (65 535 on PostgreSQL), one transaction locks them all.
    let replayed = 0
    let after: string | undefined
    for (;;) {
      const page = await this.#ledger.deadIds(after, REPLAY_PAGE)
      if (page.length > 0) replayed += await this.#requeue(page, false)
      if (page.length < REPLAY_PAGE) return replayed
      after = page[page.length - 1]
    }
  }

  /** Requeues these dead deliveries and enqueues their jobs, in one transaction; how many. */
  #requeue(ids: readonly string[], named: boolean): Promise<number> {
    return this.#database.transaction(async () => {
      const requeued = await this.#ledger.requeue(ids, this.#rerender, named)
      // By pages, as the ids are read: a statement's bound parameters are limited.
      for (let start = 0; start < requeued.length; start += REPLAY_PAGE) {
        await this.#jobs.enqueueMany(
          this.#deliverJob,
          requeued
            .slice(start, start + REPLAY_PAGE)
            .map(({ id, after, replay }) => ({ payload: { id, after, replay } })),
        )
      }
      return requeued.length
    })
  }

  /**
   * Deletes sent, dead and suppressed deliveries last changed before `before`, and with them
   * what else the module keeps of the past: digest batches that went out before it (with their
   * items) once no delivery of theirs is left unsent, and throttle windows that ended before it.
   * No statement deletes more than 1,000 rows (a prune of months holds no lock for long), and on
   * PostgreSQL the tables are vacuumed after. Returns how many deliveries.
   */
  async prune(before: Date): Promise<number> {
    // An invalid date compares false with every row: the prune would delete nothing, silently.
    if (!(before instanceof Date) || Number.isNaN(before.getTime())) {
      throw new ValidationError([
        { path: 'before', message: 'Not a valid date.', code: 'invalid_date' },
      ])
    }
    const deleted = await this.#ledger.prune(before)
    const db = this.#database.kysely as Kysely<unknown>
    const digests = await pruneDigestBatches(db, before.getTime())
    reclaimSpace(this.#database, DIGEST_ITEM_TABLE, digests.items)
    reclaimSpace(this.#database, DIGEST_BATCH_TABLE, digests.batches)
    const windows = await pruneThrottle(db, before.getTime(), this.#throttleWindows)
    reclaimSpace(this.#database, THROTTLE_TABLE, windows)
    return deleted
  }
}

/** A page size: NaN or a fraction reached the driver as the SQL limit (an error, or no rows). */
function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ValidationError([
      { path: 'limit', message: 'A whole number of at least 1.', code: 'invalid_limit' },
    ])
  }
}

/** The records whose job a worker holds, as `sending` with the attempt it makes counted. */
function sendingIn(records: DeliveryRecord[], held: ReadonlyMap<string, number>): DeliveryRecord[] {
  return records.map((record) => {
    const attempt = held.get(record.id)
    if (attempt === undefined || !UNFINISHED.has(record.status)) return record
    return {
      ...record,
      status: 'sending',
      attempts: Math.max(attempt, record.attempts + (record.status === 'sending' ? 0 : 1)),
    }
  })
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
