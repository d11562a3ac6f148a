// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): what a failed
// attempt keeps is bounded, so recording a failure never fails for its size. An error of 17 MB
// (a client's error quoting a response body) went past MariaDB's packet: the failure was never
// recorded, the worker retried recording it for good and the job never ran again nor died; and
// a job's errors grew by one line an attempt for as many attempts as it had.
import { expect } from 'vitest'
import { z } from 'zod'
import { defineJob, type JobDefinition } from './define-job.js'
import type { JobQueue } from './job-queue.js'

const HUGE = 17 * 2 ** 20
// Every engine keeps at least the last 25 attempts' errors of a job.
const KEPT_ERRORS = 25

/** The jobs to register, and the check to run on the started app's queue. */
export function attemptErrorsCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue): Promise<void>
} {
  class HugeError extends Error {
    readonly code = 'E'.repeat(HUGE)
  }
  const loud = defineJob({
    name: 'test.loud',
    schema: z.object({ thrown: z.enum(['error', 'text']) }),
    attempts: 2,
    backoff: { baseMs: 0, maxMs: 0 },
    handler: ({ thrown }) => {
      if (thrown === 'text') throw 'y'.repeat(HUGE)
      const error = new HugeError(`${'x'.repeat(HUGE)} api_key=sk_42`)
      error.name = 'N'.repeat(HUGE)
      throw error
    },
  })
  const stubborn = defineJob({
    name: 'test.stubborn',
    schema: z.object({}),
    attempts: KEPT_ERRORS * 3,
    backoff: { baseMs: 0, maxMs: 0 },
    handler: (_payload, job) => {
      // Half the attempts with text JSON writes escaped, six characters for one.
      const filler = job.attempt % 2 === 0 ? 'z' : '\u0001"'
      throw new Error(`attempt ${job.attempt}: ${filler.repeat(4_000)}`)
    },
  })
  // Values whose reading throws, and a thenable that is no native promise: each attempt is
  // still recorded (the reading's throw escaped the worker's report: the job stayed running,
  // nothing recorded, claimed again until E_JOB_LOST; the thenable's rejection went unread).
  const hostileThrows = {
    getter: () => {
      const error = new Error('unread')
      Object.defineProperty(error, 'message', {
        get() {
          throw new Error('message getter')
        },
      })
      return error
    },
    proxy: () =>
      new Proxy(new Error('trapped'), {
        get() {
          throw new Error('get trap')
        },
        getPrototypeOf() {
          throw new Error('prototype trap')
        },
      }),
    thenable: () => undefined,
  }
  const hostile = defineJob({
    name: 'test.hostile',
    schema: z.object({ thrown: z.enum(['getter', 'proxy', 'thenable']) }),
    attempts: 1,
    handler: ({ thrown }): Promise<void> => {
      if (thrown === 'thenable') {
        return {
          // biome-ignore lint/suspicious/noThenProperty: a thenable from a non-native promise library
          then(_resolve: () => void, reject: (error: Error) => void) {
            setTimeout(() => reject(new Error('thenable rejected')), 1)
          },
        } as unknown as Promise<void>
      }
      throw hostileThrows[thrown]()
    },
  })
  return {
    jobs: [loud, stubborn, hostile],
    async check(jobs) {
      await jobs.enqueueMany(hostile, [
        { payload: { thrown: 'getter' } },
        { payload: { thrown: 'proxy' } },
        { payload: { thrown: 'thenable' } },
      ])
      await jobs.enqueueMany(loud, [
        { payload: { thrown: 'error' } },
        { payload: { thrown: 'text' } },
      ])
      const stubbornId = await jobs.enqueue(stubborn, {})
      await jobs.drain({ timeoutMs: 20_000 })

      const hostileDead = await jobs.list({ state: 'dead', name: hostile.name })
      expect(hostileDead.map((job) => job.errors.map((error) => error.message)[0]).sort()).toEqual([
        'a thrown value that cannot be read (its fields or traps throw)',
        'a thrown value that cannot be read (its fields or traps throw)',
        'thenable rejected',
      ])

      const dead = await jobs.list({ state: 'dead', name: loud.name })
      expect(dead).toHaveLength(2)
      for (const job of dead) {
        expect(job.errors.map((error) => error.attempt)).toEqual([1, 2])
        for (const error of job.errors) {
          expect(error.message.length).toBeLessThan(3_000)
          expect(error.name.length).toBeLessThan(300)
          expect(error.code?.length ?? 0).toBeLessThan(300)
          expect(error.message).toMatch(/^(x|y)+… \(\d+ more characters\)$/)
        }
      }

      const kept = (await jobs.get(stubbornId as string))?.errors ?? []
      expect(kept.length).toBeGreaterThanOrEqual(KEPT_ERRORS)
      expect(kept.length).toBeLessThan(KEPT_ERRORS * 3)
      // The last attempts', in order: the ones that tell why it died.
      const attempts = kept.map((error) => error.attempt)
      expect(attempts.at(-1)).toBe(KEPT_ERRORS * 3)
      expect(attempts).toEqual(attempts.map((_, i) => KEPT_ERRORS * 3 - attempts.length + 1 + i))
    },
  }
}
