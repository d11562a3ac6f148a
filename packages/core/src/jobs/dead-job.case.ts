// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): a job's `onDead`
// hears of every death, with the payload and the error, and the job is recorded dead only once
// `onDead` returned.
import { expect } from 'vitest'
import { z } from 'zod'
import { defineJob, type JobDefinition } from './define-job.js'
import { PermanentJobError } from './job-errors.js'
import type { JobQueue } from './job-queue.js'

const BROKEN_URL = 'postgres://admin:hunter2@db.internal/prod'

/** The jobs to register, and the check to run on the started app's queue. */
export function deadJobCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue): Promise<void>
} {
  const told: { id: string; attempt: number; code: string | undefined; message: string }[] = []
  let refusals = 1
  const mortal = defineJob({
    name: 'test.mortal',
    schema: z.object({ id: z.string(), fail: z.enum(['no', 'always', 'permanent']) }),
    attempts: 2,
    backoff: { baseMs: 0, maxMs: 0 },
    handler: ({ fail }) => {
      // A driver's error quotes the URL it failed on, a client's the key it sent: neither is
      // kept with the job.
      if (fail === 'always') throw new Error(`still broken: ${BROKEN_URL} with api_key=sk_42`)
      if (fail === 'permanent') throw new PermanentJobError('bad address')
    },
    onDead: (payload, job) => {
      // The first death told is refused once: it is told again, and recorded dead only then.
      if (refusals > 0) {
        refusals -= 1
        throw new Error('the owner is unreachable')
      }
      told.push({
        id: payload?.id ?? '?',
        attempt: job.attempt,
        code: job.error.code,
        message: job.error.message,
      })
    },
  })
  return {
    jobs: [mortal],
    async check(jobs) {
      await jobs.enqueueMany(mortal, [
        { payload: { id: 'fine', fail: 'no' } },
        { payload: { id: 'retried', fail: 'always' } },
        { payload: { id: 'permanent', fail: 'permanent' } },
      ])
      await jobs.drain()
      expect(refusals).toBe(0)
      expect(told.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { id: 'permanent', attempt: 1, code: 'E_JOB_PERMANENT', message: 'bad address' },
        {
          id: 'retried',
          attempt: 2,
          code: undefined,
          message:
            'still broken: postgres://admin:[redacted]@db.internal/prod with api_key=[redacted]',
        },
      ])
      const dead = await jobs.list({ state: 'dead', name: mortal.name })
      expect(dead.map((job) => (job.payload as { id: string }).id).sort()).toEqual([
        'permanent',
        'retried',
      ])
      const messages = dead.flatMap((job) => job.errors.map((error) => error.message))
      expect(messages).toContain(
        'still broken: postgres://admin:[redacted]@db.internal/prod with api_key=[redacted]',
      )
      expect(messages.join('\n')).not.toMatch(/hunter2|sk_42/)
    },
  }
}

/**
 * A death `onDead` refuses while nothing else fails: no later failure comes to carry it, so only
 * the worker's retry timer tells it again; `drain()` waits until it was told and recorded.
 */
export function refusedDeathCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue): Promise<void>
} {
  const told: string[] = []
  let refusals = 1
  const lonely = defineJob({
    name: 'test.lonely',
    schema: z.object({ id: z.string() }),
    attempts: 1,
    handler: () => {
      throw new PermanentJobError('gone')
    },
    onDead: (payload) => {
      if (refusals > 0) {
        refusals -= 1
        throw new Error('the owner is unreachable')
      }
      told.push(payload?.id ?? '?')
    },
  })
  return {
    jobs: [lonely],
    async check(jobs) {
      const id = await jobs.enqueue(lonely, { id: 'only' })
      await jobs.drain()
      expect(refusals).toBe(0)
      expect(told).toEqual(['only'])
      expect((await jobs.get(id as string))?.state).toBe('dead')
    },
  }
}
