import type { CompiledQuery, OperationNodeSource } from 'kysely'
import type { z } from 'zod'
import { globalToken, type Token } from '../di/token.js'
import type { JobDefinition } from './define-job.js'
import type { JobCount, JobInfo, JobState } from './queue-adapter.js'

/**
 * When an enqueued job runs, and its deduplication key: `delay` (ms from now) or `runAt`, not
 * both; `key` (at most 174 characters) keeps at most one live job of this job per key (a second
 * enqueue with it is dropped until the first finishes or dies; other jobs' keys are apart).
 */
export type EnqueueOptions = { readonly key?: string } & (
  | { readonly delay?: number; readonly runAt?: never }
  | { readonly runAt?: Date; readonly delay?: never }
)

/** One job of {@link JobQueue.enqueueMany}. */
export interface EnqueueItem<S extends z.ZodType> {
  readonly payload: z.input<S>
  readonly options?: EnqueueOptions
}

/**
 * A write of the caller's that belongs with the jobs it enqueues: an insert, update or delete
 * query builder made from the app's `Database.kysely` (notify's delivery rows beside their
 * delivery jobs). See {@link EnqueueManyOptions}. One with `compile()` (a query builder has
 * it) is compiled by it, so a write of a fixed shape can keep its text instead of having it
 * compiled again on every call.
 */
export type CompanionWrite = OperationNodeSource & {
  execute(): Promise<unknown>
  compile?(): CompiledQuery
}

/**
 * Builds one write from the values that handlers of jobs finishing together gave
 * `job.completeWith(write, value)` (in the order the jobs finished): the record of what the
 * jobs did, written with their completion (see {@link JobContext.completeWith}). The worker
 * batches values by function, so keep one per kind of write (a constant, or one per service),
 * not a new closure per job.
 *
 * @example
 * ```ts
 * import { type CompletionWrite, DATABASE, defineJob } from '@mortar/core'
 * import { z } from 'zod'
 *
 * const markShipped: CompletionWrite<string> = (orderIds) =>
 *   app.resolve(DATABASE).kysely.updateTable('order').set({ shipped: 1 }).where('id', 'in', orderIds)
 *
 * export const ship = defineJob({
 *   name: 'shop.ship',
 *   schema: z.object({ orderId: z.string() }),
 *   async handler({ orderId }, job) {
 *     await carrier.book(orderId)
 *     job.completeWith(markShipped, orderId) // written with the job's completion
 *   },
 * })
 * ```
 */
export type CompletionWrite<T> = (values: readonly T[]) => CompanionWrite

/** Options of {@link JobQueue.enqueueMany}. */
export interface EnqueueManyOptions {
  /**
   * Written in the same transaction as the jobs and before them, in the same statement where
   * the engine can (the SQL queue on PostgreSQL: a data-modifying `WITH`), else as a statement
   * of its own just before. Its result is not returned: use it for rows whose ids you already
   * know.
   */
  readonly alongside?: CompanionWrite
}

/** What {@link JobQueue.status} reports. */
export interface JobsStatus {
  readonly engine: string
  /** Counts by job name and state (states with no job are left out). */
  readonly counts: readonly JobCount[]
  /** The running jobs, with their progress. */
  readonly running: readonly JobInfo[]
  /** Names of waiting jobs no module of this app declares (older or newer code wrote them). */
  readonly unknownNames: readonly string[]
}

/** Options of {@link JobQueue.drain}. */
export interface DrainOptions {
  /** Give up (with an error) after this many ms of real time (default 30,000). */
  readonly timeoutMs?: number
}

/**
 * The app's queue of background jobs, bound under {@link JOBS}. Enqueue inside `transaction()`
 * or `@Transactional()` and the job belongs to that transaction on every engine: committed, it
 * will run; rolled back, it never existed.
 *
 * @example
 * ```ts
 * import { JOBS, transaction } from '@mortar/core'
 *
 * const jobs = app.resolve(JOBS)
 * await transaction(async (trx) => {
 *   const order = await trx.insertInto('order').values(input).returningAll().executeTakeFirstOrThrow()
 *   await jobs.enqueue(sendReceipt, { orderId: order.id }, { delay: 5_000, key: `receipt:${order.id}` })
 * })
 * ```
 */
export interface JobQueue {
  /** `'database'`, `'bullmq'`, `'inline'` or a plugin's engine name. */
  readonly engine: string
  /**
   * Validates the payload (a `ValidationError` when it does not fit the schema or is not
   * JSON) and adds the job. Resolves to its id, or `undefined` when a live job with the same
   * `key` already exists, on every engine: an id means the job runs once the caller's
   * transaction commits (in one, a later enqueue of the key is the duplicate); `undefined`
   * means it never does. A key another open transaction enqueued waits for that one to end.
   */
  enqueue<S extends z.ZodType>(
    job: JobDefinition<S>,
    payload: NoInfer<z.input<S>>,
    options?: EnqueueOptions,
  ): Promise<string | undefined>
  /**
   * Adds many jobs of one definition in one statement (with `alongside`, a write of the
   * caller's, in the same one where the engine can); ids in input order, as for `enqueue`.
   * Jobs past what one statement carries (MariaDB's `max_allowed_packet`) are several
   * statements of one transaction: all are stored, or none.
   */
  enqueueMany<S extends z.ZodType>(
    job: JobDefinition<S>,
    items: readonly EnqueueItem<NoInfer<S>>[],
    options?: EnqueueManyOptions,
  ): Promise<readonly (string | undefined)[]>
  /** Counts by name and state, the running jobs with their progress, unknown names. */
  status(): Promise<JobsStatus>
  /** Jobs in a state (all states when omitted), oldest first; 100 at most by default. */
  list(options?: {
    readonly state?: JobState
    readonly name?: string
    readonly limit?: number
  }): Promise<readonly JobInfo[]>
  /** One job by id; `undefined` when it finished (finished jobs are deleted) or never existed. */
  get(id: string): Promise<JobInfo | undefined>
  /** Makes dead jobs pending again with their attempts reset; `'all'` retries every dead job. */
  retry(ids: string | readonly string[] | 'all'): Promise<number>
  /** Deletes dead jobs, or waiting ones too when asked; never running ones. */
  purge(states?: readonly ('dead' | 'pending' | 'scheduled')[]): Promise<number>
  /**
   * Runs every job that is due now (by the app's clock) and every schedule tick that is due,
   * in this process, until none is left; for tests and scripts. Works with workers off.
   */
  drain(options?: DrainOptions): Promise<void>
}

/**
 * The app's {@link JobQueue}. `createApp` binds it when a module declares `jobs` or
 * `schedules`, or when given the `jobs` option.
 *
 * @example
 * ```ts
 * import { JOBS } from '@mortar/core'
 *
 * await app.resolve(JOBS).enqueue(sendReceipt, { orderId: 'o-1' })
 * ```
 */
export const JOBS: Token<JobQueue> = globalToken<JobQueue>('mortar.jobs')
