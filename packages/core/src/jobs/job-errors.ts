import { isMortarError, MortarError, type MortarErrorOptions } from '../errors/mortar-error.js'

/**
 * Thrown by a job handler when retrying cannot help (a malformed address, a record that no
 * longer exists): the job is dead at once, kept with this error, instead of retried.
 *
 * @example
 * ```ts
 * import { defineJob, PermanentJobError } from '@mortar/core'
 * import { z } from 'zod'
 *
 * export const sendReceipt = defineJob({
 *   name: 'shop.send-receipt',
 *   schema: z.object({ orderId: z.string() }),
 *   async handler({ orderId }, job) {
 *     const order = await job.resolve(ORDERS).find(orderId)
 *     if (!order) throw new PermanentJobError(`Order ${orderId} no longer exists.`)
 *   },
 * })
 * ```
 */
export class PermanentJobError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_JOB_PERMANENT', 500, message, options)
  }
}

/** True for a {@link PermanentJobError}, including one from another copy of `@mortar/core`. */
export function isPermanentJobError(error: unknown): boolean {
  return (
    error instanceof PermanentJobError || (isMortarError(error) && error.code === 'E_JOB_PERMANENT')
  )
}

/**
 * The longest wait a {@link RetryLaterJobError} can ask for: a day. A longer one (a provider's
 * hostile or mistaken `Retry-After`) is cut to it, so no job is parked for a year.
 */
export const MAX_RETRY_LATER_MS = 86_400_000

/** What a {@link RetryLaterJobError} is made with. */
export interface RetryLaterJobErrorOptions extends MortarErrorOptions {
  /**
   * The shortest wait before the next attempt, in ms (at most {@link MAX_RETRY_LATER_MS}); a
   * value that is not a finite number ≥ 0 is ignored: the job's backoff alone decides.
   */
  readonly retryAfterMs: number
}

/**
 * Thrown by a job handler to fail the attempt and have the next one wait at least
 * `retryAfterMs` (a provider's `Retry-After`, a rate limit's reset): the later of that and the
 * job's backoff. The attempt counts: after the last one the job is dead, as after any failure.
 *
 * @example
 * ```ts
 * import { defineJob, RetryLaterJobError } from '@mortar/core'
 * import { z } from 'zod'
 *
 * export const syncOrder = defineJob({
 *   name: 'shop.sync-order',
 *   schema: z.object({ orderId: z.string() }),
 *   async handler({ orderId }, job) {
 *     const response = await fetch(`https://erp.example/orders/${orderId}`, { signal: job.signal })
 *     if (response.status === 429) {
 *       const seconds = Number(response.headers.get('retry-after') ?? 60)
 *       throw new RetryLaterJobError('rate limited', { retryAfterMs: seconds * 1000 })
 *     }
 *   },
 * })
 * ```
 */
export class RetryLaterJobError extends MortarError {
  readonly retryAfterMs: number

  constructor(message: string, options: RetryLaterJobErrorOptions) {
    super('E_JOB_RETRY_LATER', 503, message, options)
    this.retryAfterMs = options.retryAfterMs
  }
}

/**
 * The wait a failed attempt's error asks for before the next one, in ms: 0 unless it is a
 * {@link RetryLaterJobError} (from any copy of `@mortar/core`) with a valid delay, at most
 * {@link MAX_RETRY_LATER_MS}. A bad delay is no hint rather than a crash of the worker.
 */
export function retryLaterDelay(error: unknown): number {
  if (!isMortarError(error) || error.code !== 'E_JOB_RETRY_LATER') return 0
  const asked = (error as { retryAfterMs?: unknown }).retryAfterMs
  if (typeof asked !== 'number' || !Number.isFinite(asked) || asked < 0) return 0
  return Math.min(asked, MAX_RETRY_LATER_MS)
}

/** The codes of {@link JobError}. */
export type JobErrorCode =
  | 'E_JOB_UNDECLARED'
  | 'E_JOBS_CONFIG'
  | 'E_JOB_NOT_FOUND'
  | 'E_JOB_TIMEOUT'
  | 'E_JOB_PAYLOAD'
  | 'E_JOBS_NOT_RUNNING'
  | 'E_JOBS_CLAIM_TIMEOUT'
  | 'E_JOB_LOST'
  | 'E_JOBS_DEADLOCK'

const STATUS: Record<JobErrorCode, number> = {
  E_JOB_UNDECLARED: 500,
  E_JOBS_CONFIG: 500,
  E_JOB_NOT_FOUND: 404,
  E_JOB_TIMEOUT: 500,
  E_JOB_PAYLOAD: 500,
  E_JOBS_NOT_RUNNING: 500,
  E_JOBS_CLAIM_TIMEOUT: 500,
  E_JOB_LOST: 500,
  E_JOBS_DEADLOCK: 409,
}

/**
 * A misuse or failure of background jobs: a job no module declares, an engine that cannot run
 * with this app's settings, an unknown job id, a handler past its timeout, a stored payload
 * that no longer fits its schema.
 *
 * @example
 * ```ts
 * import { JobError } from '@mortar/core'
 *
 * try {
 *   await app.resolve(JOBS).retry('42')
 * } catch (error) {
 *   if (error instanceof JobError && error.code === 'E_JOB_NOT_FOUND') console.error('no such job')
 * }
 * ```
 */
export class JobError extends MortarError {
  declare readonly code: JobErrorCode

  constructor(code: JobErrorCode, message: string, options?: MortarErrorOptions) {
    super(code, STATUS[code], message, options)
  }
}
