// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): a worker holding two
// attempts of one job (its lease lapsed in an outage and a later claim took the job again) writes
// each attempt's result under that attempt's own lease, so the older one's late failure can
// neither bury nor retry the newer one.
import { expect } from 'vitest'
import { z } from 'zod'
import { defineJob, type JobDefinition } from './define-job.js'
import { PermanentJobError } from './job-errors.js'
import type { JobQueue } from './job-queue.js'
import type { JobQueueService } from './job-queue-service.js'

/** A promise and what settles it. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((done) => {
    resolve = done
  })
  return { promise, resolve }
}

/**
 * The jobs to register (workers need a concurrency of 2 at least), and the check; `lapse` makes
 * the first attempt's lease pass once heartbeats fail (a fake clock moved past it, or real time).
 */
export function supersededAttemptCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue, lapse: () => void): Promise<void>
} {
  const runs: number[] = []
  const started = [signal(), signal()]
  const ends = [signal(), signal()]
  const twice = defineJob({
    name: 'test.twice',
    schema: z.object({}),
    attempts: 3,
    async handler(_payload, job) {
      runs.push(job.attempt)
      started[job.attempt - 1]?.resolve()
      await ends[job.attempt - 1]?.promise
      if (job.attempt === 1) throw new PermanentJobError('the older attempt fails late')
    },
  })
  return {
    jobs: [twice],
    async check(jobs, lapse) {
      const adapter = (jobs as JobQueueService).adapter
      const { claim, renew, fail } = adapter
      let outage = true
      let loseClaim = false
      const failed = signal()
      // The outage: heartbeats fail, so the lease lapses; a claim is lost (the worker claims in
      // another name after it), then the next one takes the job again.
      adapter.renew = async (...args) => {
        if (outage) throw new Error('Connection lost: The server closed the connection.')
        return renew.apply(adapter, args)
      }
      adapter.claim = async (request) => {
        if (loseClaim) {
          loseClaim = false
          throw new Error('Connection lost: The server closed the connection.')
        }
        return claim.apply(adapter, [request])
      }
      adapter.fail = async (...args) => {
        const held = await fail.apply(adapter, args)
        failed.resolve()
        return held
      }
      const id = (await jobs.enqueue(twice, {})) as string
      await started[0]?.promise
      loseClaim = true
      lapse()
      await started[1]?.promise
      outage = false
      // The older attempt fails now, in the lease it had: not the newer one's.
      ends[0]?.resolve()
      await failed.promise
      expect((await jobs.get(id))?.state).toBe('running')
      ends[1]?.resolve()
      await jobs.drain({ timeoutMs: 20_000 })
      expect(runs).toEqual([1, 2])
      expect(await jobs.get(id)).toBeUndefined()
    },
  }
}
