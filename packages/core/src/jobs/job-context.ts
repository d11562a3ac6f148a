import type { Key } from '../di/token.js'
import type { Logger } from '../logger/logger.js'
import type { CompletionWrite } from './job-queue.js'

/** A JSON value, as a job's progress may hold. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue }

/** What `job.progress()` records: a fraction or percentage, or a small JSON object. */
export type JobProgress = number | { readonly [key: string]: JsonValue }

/**
 * What a job handler receives beside its payload: which job and attempt this is, a signal that
 * aborts on timeout or shutdown, a logger, a per-job dependency scope and a way to report
 * progress.
 *
 * @example
 * ```ts
 * import { defineJob } from '@mortar/core'
 * import { z } from 'zod'
 *
 * export const reindex = defineJob({
 *   name: 'search.reindex',
 *   schema: z.object({ from: z.number() }),
 *   timeout: 60_000,
 *   async handler({ from }, job) {
 *     for (let page = from; page < from + 10; page++) {
 *       job.signal.throwIfAborted()
 *       await job.resolve(SEARCH).indexPage(page)
 *       await job.progress({ page })
 *     }
 *     job.logger.info({ attempt: job.attempt }, 'reindexed')
 *   },
 * })
 * ```
 */
export interface JobContext {
  /** The job's id in its queue. */
  readonly id: string
  /** The job's name (its definition's `name`). */
  readonly name: string
  /** This attempt, from 1. */
  readonly attempt: number
  /** The attempts the job has in all; after the last one fails it is dead. */
  readonly maxAttempts: number
  /**
   * Aborts when the job's `timeout` passes or the worker shuts down; pass it to `fetch` and
   * other cancellable calls. After a timeout the attempt counts as failed whatever the handler
   * does next; after a shutdown the job goes back to the queue without using up an attempt.
   */
  readonly signal: AbortSignal
  /** The app's logger, with the job's name, id and attempt bound. */
  readonly logger: Logger
  /** Resolves a provider in this job's own scope (scoped providers get one instance per job). */
  resolve<T>(key: Key<T>): T
  /**
   * Records how far the job is (a number, or a small JSON object up to 4 KB), shown by
   * `JobQueue.status()` and `mortar jobs status`.
   */
  progress(value: JobProgress): Promise<void>
  /**
   * Writes `value` with this job's completion, through `write`, which the worker calls once
   * for every job it finishes together: a handler's record of what it did commits exactly when
   * the job is finished, with no round trip of its own for the handler to wait for. On the SQL
   * queue the write is in the transaction that deletes the finished jobs (one statement on
   * PostgreSQL: a data-modifying `WITH`), and it gets only the values of jobs this worker still
   * held: a job whose lease passed to another worker writes nothing. Engines whose jobs are
   * not in the app's database (BullMQ) write first, then complete the jobs: a crash between
   * runs the job again, so a handler should skip work its write shows done. Nothing is written
   * when the attempt fails. A write the database refuses for this job's value fails this
   * attempt alone; the jobs finishing with it complete.
   */
  completeWith<T>(write: CompletionWrite<T>, value: T): void
}
