import type { z } from 'zod'
import { processGlobal } from '../global/index.js'
import type { JobDefinition } from './define-job.js'
import { JobError } from './job-errors.js'
import type { EnqueueOptions, JobQueue } from './job-queue.js'

// The queues of started apps, newest last; process-wide so the ESM and CJS builds share it.
const running = processGlobal('mortar.runningJobQueues', (): JobQueue[] => [])

/** Makes `queue` the one {@link enqueue} uses; returns a function that undoes it. */
export function useRunningQueue(queue: JobQueue): () => void {
  running.push(queue)
  return () => {
    const index = running.lastIndexOf(queue)
    if (index !== -1) running.splice(index, 1)
  }
}

/**
 * Enqueues a job on the running app's queue (the app started last), as `JOBS.enqueue` does:
 * for code that has no container at hand, the way `transaction()` needs no database handle.
 * Inside `transaction()` or `@Transactional()` the job belongs to that transaction.
 *
 * @example
 * ```ts
 * import { enqueue, transaction } from '@mortar/core'
 *
 * await transaction(async (trx) => {
 *   await trx.updateTable('order').set({ status: 'paid' }).where('id', '=', orderId).execute()
 *   await enqueue(sendReceipt, { orderId })
 * })
 * ```
 */
export function enqueue<S extends z.ZodType>(
  job: JobDefinition<S>,
  payload: NoInfer<z.input<S>>,
  options?: EnqueueOptions,
): Promise<string | undefined> {
  const queue = running[running.length - 1]
  if (queue === undefined) {
    return Promise.reject(
      new JobError(
        'E_JOBS_NOT_RUNNING',
        `No running app has jobs, so '${job.name}' cannot be enqueued: start an app whose modules declare jobs, or use app.resolve(JOBS).`,
      ),
    )
  }
  return queue.enqueue(job, payload, options)
}
