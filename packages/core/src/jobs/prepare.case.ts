// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): a job's `prepare`
// reads for the jobs of a claim at once, each handler gets its own value, a prepare that
// throws or answers short fails the attempts of its jobs as a handler's throw would, and one
// that never answers times them out as a handler that never returns would.
import { expect } from 'vitest'
import { z } from 'zod'
import { ResolutionError } from '../di/index.js'
import { token } from '../di/token.js'
import { defineJob, type JobDefinition } from './define-job.js'
import type { JobQueue } from './job-queue.js'

const JOBS = 30

/** The jobs to register, and the check to run on the started app's queue. */
export function prepareCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue): Promise<void>
} {
  const batches: number[][] = []
  const handled = new Map<number, string[]>()
  const prepared = defineJob({
    name: 'test.prepared',
    schema: z.object({ n: z.number().int() }),
    prepare: async (payloads) => {
      batches.push(payloads.map((payload) => payload.n))
      return payloads.map((payload) => `value of ${payload.n}`)
    },
    handler: ({ n }, _job, value) => {
      handled.set(n, [...(handled.get(n) ?? []), value])
    },
  })
  let refusals = 1
  const retried: number[] = []
  const flaky = defineJob({
    name: 'test.flaky-prepare',
    schema: z.object({ n: z.number().int() }),
    attempts: 2,
    backoff: { baseMs: 0, maxMs: 0 },
    prepare: async (payloads) => {
      if (refusals > 0) {
        refusals -= 1
        throw new Error('the rows are unreachable')
      }
      return payloads.map((payload) => payload.n)
    },
    handler: (_payload, job, n) => void retried.push(n * 10 + job.attempt),
  })
  const short = defineJob({
    name: 'test.short-prepare',
    schema: z.object({}),
    attempts: 1,
    prepare: async () => [],
    handler: () => {
      throw new Error('never runs without its value')
    },
  })
  const read = new Set<number>()
  const waited: number[][] = []
  const slow = defineJob({
    name: 'test.slow-prepare',
    schema: z.object({ n: z.number().int() }),
    attempts: 3,
    backoff: { baseMs: 0, maxMs: 0 },
    timeout: 150,
    // A job's first read never answers: it waits for it past its timeout.
    prepare: (payloads) => {
      const first = payloads.some((payload) => !read.has(payload.n))
      for (const payload of payloads) read.add(payload.n)
      return first
        ? new Promise<number[]>(() => {})
        : Promise.resolve(payloads.map((payload) => payload.n))
    },
    handler: (_payload, job, n) => void waited.push([n, job.attempt]),
  })
  // Work a prepare leaves running past its return, though it resolved nothing itself.
  let leftRunning: (() => unknown) | undefined
  const background = defineJob({
    name: 'test.background-prepare',
    schema: z.object({}),
    prepare: (payloads, { resolve }) => {
      leftRunning = () => resolve(token('test.left-running'))
      return Promise.resolve(payloads.map(() => undefined))
    },
    handler: () => undefined,
  })
  return {
    jobs: [prepared, flaky, short, slow, background],
    async check(jobs) {
      await jobs.enqueueMany(
        prepared,
        Array.from({ length: JOBS }, (_, n) => ({ payload: { n } })),
      )
      await jobs.drain()
      // Each job prepared once, its handler given its own value; fewer reads than jobs.
      expect(batches.flat().sort((a, b) => a - b)).toEqual([...Array(JOBS).keys()])
      expect(batches.length).toBeLessThan(JOBS)
      expect([...handled.entries()].sort(([a], [b]) => a - b)).toEqual(
        Array.from({ length: JOBS }, (_, n) => [n, [`value of ${n}`]]),
      )

      await jobs.enqueue(flaky, { n: 1 })
      await jobs.drain()
      // The first read failed the first attempt; the retry read again and ran.
      expect(retried).toEqual([12])
      expect((await jobs.list({ state: 'dead' })).length).toBe(0)

      const id = await jobs.enqueue(short, {})
      await jobs.drain()
      const [dead] = await jobs.list({ state: 'dead' })
      expect(dead?.id).toBe(id)
      expect(dead?.errors).toEqual([
        expect.objectContaining({
          message: expect.stringContaining(
            'prepare must give one value per payload (1); it gave 0',
          ),
        }),
      ])

      await jobs.enqueueMany(slow, [{ payload: { n: 1 } }, { payload: { n: 2 } }])
      await jobs.drain()
      // Each timed out waiting for its first read, and ran once on a later attempt.
      expect(waited.map(([n]) => n).sort()).toEqual([1, 2])
      expect(waited.every(([, attempt]) => (attempt as number) > 1)).toBe(true)
      expect((await jobs.list({ state: 'dead' })).map((job) => job.name)).toEqual([short.name])

      await jobs.enqueue(background, {})
      await jobs.drain()
      // The prepare is over: its context refuses rather than make a scope nobody would dispose.
      expect(leftRunning).toThrow(ResolutionError)
      expect(leftRunning).toThrow(/ended/)
    },
  }
}
