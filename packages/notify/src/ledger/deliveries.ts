import type { Database, JobDefinition, JobQueue } from '@mortar/core'
import type { z } from 'zod'
import type { DeliveryLedger, DeliveryListOptions, LedgerStatus } from './delivery-ledger.js'
import type { DeliveryRecord } from './delivery-table.js'

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
  readonly #deliverJob: JobDefinition<z.ZodType<{ id: string }>>

  constructor(
    ledger: DeliveryLedger,
    database: Database,
    jobs: JobQueue,
    deliverJob: JobDefinition<z.ZodType<{ id: string }>>,
  ) {
    this.#ledger = ledger
    this.#database = database
    this.#jobs = jobs
    this.#deliverJob = deliverJob
  }

  /** One delivery by id. */
  get(id: string): Promise<DeliveryRecord | undefined> {
    return this.#ledger.get(id)
  }

  /** The recipient's deliveries, newest first (50 by default). */
  list(recipientId: string, options?: DeliveryListOptions): Promise<DeliveryRecord[]> {
    return this.#ledger.list(recipientId, options)
  }

  /** Dead deliveries, oldest first. */
  dead(limit?: number): Promise<DeliveryRecord[]> {
    return this.#ledger.dead(limit)
  }

  /** Counts by channel and status, and possible duplicates by channel. */
  status(): Promise<LedgerStatus> {
    return this.#ledger.status()
  }

  /**
   * Sends dead deliveries again: each is queued with a new job (in one transaction). Refuses an
   * unknown id (`E_DELIVERY_NOT_FOUND`) or one that is not dead (`E_DELIVERY_NOT_REPLAYABLE`).
   * Returns how many were queued.
   */
  replay(ids: string | readonly string[] | 'all-dead'): Promise<number> {
    return this.#database.transaction(async () => {
      const requeued = await this.#ledger.requeue(
        typeof ids === 'string' && ids !== 'all-dead' ? [ids] : ids,
      )
      if (requeued.length > 0) {
        await this.#jobs.enqueueMany(
          this.#deliverJob,
          requeued.map((id) => ({ payload: { id } })),
        )
      }
      return requeued.length
    })
  }

  /** Deletes sent, dead and suppressed deliveries last changed before `before`; returns how many. */
  prune(before: Date): Promise<number> {
    return this.#ledger.prune(before)
  }
}
