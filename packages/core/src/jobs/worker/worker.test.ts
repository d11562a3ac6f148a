import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineModule } from '../../app/define-module.js'
import { createLogger } from '../../logger/create-logger.js'
import { createTestApp } from '../../testing/index.js'
import { defineJob } from '../define-job.js'
import { InlineQueue } from '../inline/inline-queue.js'
import { JOBS } from '../job-queue.js'
import type { AttemptError, ClaimedJob, ClaimRequest, FailOutcome } from '../queue-adapter.js'

/**
 * A queue whose answer to a failure with a retry due at once comes only after a claim took that
 * retry: the order a database gives when another claim is under way as the failure commits.
 */
class RetryClaimedFirst extends InlineQueue {
  readonly #waiting = new Map<string, () => void>()
  retriesClaimedFirst = 0

  override async claim(request: ClaimRequest): Promise<readonly ClaimedJob[]> {
    const claimed = await super.claim(request)
    for (const job of claimed) this.#waiting.get(job.id)?.()
    return claimed
  }

  override async fail(
    worker: string,
    id: string,
    error: AttemptError,
    outcome: FailOutcome,
    nowMs: number,
  ): Promise<boolean> {
    const held = await super.fail(worker, id, error, outcome, nowMs)
    if ('retryInMs' in outcome) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000)
        this.#waiting.set(id, () => {
          clearTimeout(timer)
          this.retriesClaimedFirst += 1
          resolve()
        })
      })
      this.#waiting.delete(id)
    }
    return held
  }
}

/** A queue whose claims wait until the test lets them answer, recording release and close. */
class HeldClaims extends InlineQueue {
  readonly calls: string[] = []
  #let: (() => void) | undefined
  claiming: Promise<void>
  #claimed: () => void = () => {}

  constructor() {
    super()
    this.claiming = new Promise((resolve) => {
      this.#claimed = resolve
    })
  }

  /** Lets the claim in flight answer. */
  answer(): void {
    this.#let?.()
  }

  override async claim(request: ClaimRequest): Promise<readonly ClaimedJob[]> {
    this.#claimed()
    await new Promise<void>((resolve) => {
      this.#let = resolve
    })
    return super.claim(request)
  }

  override async release(worker: string, ids: readonly string[], nowMs: number): Promise<void> {
    this.calls.push(`release ${ids.length}`)
    await super.release(worker, ids, nowMs)
  }

  override async close(): Promise<void> {
    this.calls.push('close')
    await super.close()
  }
}

describe('Worker', () => {
  it('stop() lets the claim in flight answer and gives back what it took before the engine closes', async () => {
    const queue = new HeldClaims()
    const noop = defineJob({ name: 'test.noop', schema: z.object({}), handler() {} })
    const app = createTestApp({
      logger: createLogger({ level: 'silent' }),
      jobs: { engine: () => queue, workers: true },
      modules: [defineModule({ name: 'test', register() {}, jobs: [noop] })],
    })
    await app.start()
    await app.resolve(JOBS).enqueue(noop, {})
    await queue.claiming
    const stopped = app.stop()
    // The claim answers once the stop began: left behind, it would answer to a closed engine.
    await new Promise((resolve) => setImmediate(resolve))
    queue.answer()
    await stopped
    expect(queue.calls).toEqual(['release 1', 'close'])
  })

  it('drain() waits for a retry that was claimed while its failed attempt was still being recorded', async () => {
    const queue = new RetryClaimedFirst()
    const events: string[] = []
    const flaky = defineJob({
      name: 'test.flaky',
      schema: z.object({}),
      attempts: 2,
      backoff: { baseMs: 0, maxMs: 0 },
      async handler(_payload, job) {
        if (job.attempt === 1) throw new Error('first attempt fails')
        await new Promise((resolve) => setTimeout(resolve, 50))
        events.push('retry finished')
      },
    })
    // Its end asks for a claim while the flaky job's failure is still being recorded.
    const slow = defineJob({
      name: 'test.slow',
      schema: z.object({}),
      async handler() {
        await new Promise((resolve) => setTimeout(resolve, 20))
      },
    })
    const app = createTestApp({
      logger: createLogger({ level: 'silent' }),
      jobs: { engine: () => queue, workers: false },
      modules: [defineModule({ name: 'test', register() {}, jobs: [flaky, slow] })],
    })
    await app.start()
    try {
      const jobs = app.resolve(JOBS)
      await jobs.enqueue(flaky, {})
      await jobs.enqueue(slow, {})
      await jobs.drain()
      events.push('drained')
      expect(queue.retriesClaimedFirst).toBe(1)
      expect(events).toEqual(['retry finished', 'drained'])
    } finally {
      await app.stop()
    }
  })

  it('records the attempt of a handler that throws a value with no text form, and one whose message is no string', async () => {
    // String() of an object without a prototype throws: recording the failure threw with it,
    // the attempt was never recorded and the rejection went unhandled (a crash of the process).
    const thrown: unknown[] = [
      Object.create(null),
      {
        toString: () => {
          throw new Error('no text')
        },
      },
      Object.assign(new Error('x'), { message: { detail: 'api_key=k1' } }),
    ]
    const odd = defineJob({
      name: 'test.odd',
      schema: z.object({ index: z.number() }),
      attempts: 1,
      handler({ index }) {
        throw thrown[index]
      },
    })
    const app = createTestApp({
      // Logged too: the logger must take these values as well.
      logger: createLogger({ level: 'error', destination: { write: () => {} } }),
      jobs: { engine: 'inline', workers: false },
      modules: [defineModule({ name: 'test', register() {}, jobs: [odd] })],
    })
    await app.start()
    try {
      const jobs = app.resolve(JOBS)
      const ids = await Promise.all(thrown.map((_, index) => jobs.enqueue(odd, { index })))
      await jobs.drain()
      const recorded = await Promise.all(ids.map((id) => jobs.get(id as string)))
      expect(recorded.map((job) => job?.state)).toEqual(['dead', 'dead', 'dead'])
      // No text form of their own: each is recorded as its type, and so is a message that is
      // an object (what it holds is not spelled out).
      expect(recorded.map((job) => job?.errors[0]?.message)).toEqual([
        '[object Object]',
        '[object Object]',
        '[object Object]',
      ])
    } finally {
      await app.stop()
    }
  })
})
