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

/** The codes of {@link JobError}. */
export type JobErrorCode =
  | 'E_JOB_UNDECLARED'
  | 'E_JOBS_CONFIG'
  | 'E_JOB_NOT_FOUND'
  | 'E_JOB_TIMEOUT'
  | 'E_JOB_PAYLOAD'
  | 'E_JOBS_NOT_RUNNING'
  | 'E_JOB_LOST'

const STATUS: Record<JobErrorCode, number> = {
  E_JOB_UNDECLARED: 500,
  E_JOBS_CONFIG: 500,
  E_JOB_NOT_FOUND: 404,
  E_JOB_TIMEOUT: 500,
  E_JOB_PAYLOAD: 500,
  E_JOBS_NOT_RUNNING: 500,
  E_JOB_LOST: 500,
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
