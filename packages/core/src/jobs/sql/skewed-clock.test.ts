import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createApp } from '../../app/create-app.js'
import { defineModule } from '../../app/define-module.js'
import { CLOCK, type Clock } from '../../clock/clock.js'
import { createLogger } from '../../logger/create-logger.js'
import { type PrivateDatabaseUrl, privateDatabaseUrl, testEngines } from '../../testing/index.js'
import { defineJob } from '../define-job.js'
import { RetryLaterJobError } from '../job-errors.js'
import { JOBS } from '../job-queue.js'

const HOUR = 3_600_000
const silent = createLogger({ level: 'silent' })

/** A machine's clock that is `offsetMs` off: not a FakeClock, so the queue keeps the server's. */
function skewedClock(offsetMs: number): Clock {
  return { now: () => new Date(Date.now() + offsetMs), nowMs: () => Date.now() + offsetMs }
}

// Two processes of one app on one database, as apps in one process: one whose clock is right,
// others whose clocks are an hour ahead or behind. The database's clock is the real one.
for (const engine of testEngines()) {
  if (engine.skip) console.info(`[skipped] skewed worker clocks on ${engine.title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(`skewed worker clocks on ${engine.title}`, () => {
    let database: PrivateDatabaseUrl | undefined
    const apps: { stop(): Promise<void> }[] = []
    afterEach(async () => {
      for (const app of apps.splice(0).reverse()) await app.stop()
      await database?.drop()
    })

    async function processes(
      handler: (payload: { n: number }) => Promise<void>,
      offsets: readonly number[],
    ) {
      database = await privateDatabaseUrl(engine)
      const work = defineJob({
        name: 'skew.work',
        schema: z.object({ n: z.number() }),
        attempts: 3,
        backoff: { baseMs: 1, maxMs: 1 },
        handler,
      })
      const started = []
      for (const offset of offsets) {
        const app = createApp({
          database: (database as PrivateDatabaseUrl).url,
          logger: silent,
          modules: [defineModule({ name: 'skew', jobs: [work], register: () => {} })],
          jobs: { engine: 'database', workers: false },
          overrides: (binder) => binder.bind(CLOCK, { useValue: skewedClock(offset) }),
        })
        if (started.length === 0) await app.migrate()
        await app.start()
        apps.push(app)
        started.push({ jobs: app.resolve(JOBS), work })
      }
      return started
    }

    it('never runs a job held by one worker in another whose clock is an hour ahead', async () => {
      const runs: number[] = []
      let release = () => {}
      const held = new Promise<void>((resolve) => {
        release = resolve
      })
      let running = () => {}
      const started = new Promise<void>((resolve) => {
        running = resolve
      })
      const [right, ahead] = await processes(
        async ({ n }) => {
          runs.push(n)
          running()
          await held
        },
        [0, HOUR],
      )
      if (right === undefined || ahead === undefined) throw new Error('two processes')
      await right.jobs.enqueue(right.work, { n: 1 })
      const draining = right.jobs.drain()
      await started
      // By its own clock the first worker's 30 s lease ended an hour ago: it must not matter.
      await ahead.jobs.drain()
      release()
      await draining
      expect(runs).toEqual([1])
    })

    it('runs at once a job enqueued or released by a worker an hour ahead', async () => {
      const runs: number[] = []
      const [right, ahead] = await processes(
        async ({ n }) => {
          runs.push(n)
        },
        [0, HOUR],
      )
      if (right === undefined || ahead === undefined) throw new Error('two processes')
      await ahead.jobs.enqueue(ahead.work, { n: 2 })
      await ahead.jobs.enqueue(ahead.work, { n: 3 }, { delay: 0 })
      await right.jobs.drain()
      expect(runs.sort()).toEqual([2, 3])
    })

    it('retries on schedule a job failed by a worker an hour behind, not at once', async () => {
      const runs: number[] = []
      const [behind, right] = await processes(
        async ({ n }) => {
          runs.push(n)
          throw new RetryLaterJobError('later', { retryAfterMs: HOUR / 2 })
        },
        [-HOUR, 0],
      )
      if (right === undefined || behind === undefined) throw new Error('two processes')
      const id = await behind.jobs.enqueue(behind.work, { n: 4 })
      await behind.jobs.drain()
      expect(runs).toEqual([4])
      // Due half an hour from the database's now: by the behind worker's clock it was due
      // half an hour ago, and the right one would have run it again here.
      await right.jobs.drain()
      expect(runs).toEqual([4])
      const job = await right.jobs.get(id as string)
      expect(job?.state).toBe('scheduled')
      expect(job?.runAt.getTime()).toBeGreaterThan(Date.now() + HOUR / 4)
      expect(job?.runAt.getTime()).toBeLessThan(Date.now() + HOUR)
    })
  })
}
