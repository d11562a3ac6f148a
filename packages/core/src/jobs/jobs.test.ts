import { type Kysely, sql } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest'
import { z } from 'zod'
import { defineModule, type Module } from '../app/define-module.js'
import { token } from '../di/token.js'
import { createLogger } from '../logger/create-logger.js'
import { DATABASE, Database } from '../persistence/database/index.js'
import { transaction } from '../persistence/transactions/index.js'
import {
  createTestApp,
  FakeClock,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '../testing/index.js'
import { defineJob, type JobDefinition } from './define-job.js'
import { InlineQueue } from './inline/inline-queue.js'
import { engineCases } from './engine-cases.case.js'
import { JobError, PermanentJobError, RetryLaterJobError } from './job-errors.js'
import { JOBS, type JobQueue } from './job-queue.js'
import type { JobQueueService } from './job-queue-service.js'
import type { JobsOptions } from './app-jobs.js'
import { schedule } from './schedules/index.js'
import { SqlQueue } from './sql/sql-queue.js'
import { supersededAttemptCase } from './superseded-attempt.case.js'

interface Case {
  readonly title: string
  readonly engine: JobsOptions['engine']
  readonly base: 'sqlite' | 'postgres' | 'mysql'
  readonly skip?: string
}

// The inline engine keeps jobs in memory, with SQLite only for the app's transactions.
const cases: Case[] = [
  { title: 'inline', engine: 'inline', base: 'sqlite' },
  ...testEngines().map((engine) => ({
    title: `database on ${engine.title}`,
    engine: 'database' as const,
    base: engine.engine,
    ...(engine.skip === undefined ? {} : { skip: engine.skip }),
  })),
]

const silent = createLogger({ level: 'silent' })

/** Writes a job row as other code would, bypassing this app's declarations. */
function raw(jobs: JobQueue, name: string, payload: object) {
  const nowMs = Date.UTC(2026, 0, 1)
  return (jobs as JobQueueService).adapter.enqueue([
    {
      name,
      payload: JSON.stringify(payload),
      runAtMs: nowMs,
      createdAtMs: nowMs,
      maxAttempts: 5,
      key: undefined,
    },
  ])
}

function module(...jobs: JobDefinition[]): Module {
  return defineModule({ name: 'test', register() {}, jobs })
}

for (const testCase of cases) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(testCase.skip !== undefined)(`jobs: ${testCase.title}`, () => {
    if (testCase.skip) console.info(testCase.skip)
    let target: PrivateDatabaseUrl
    const apps: TestApp[] = []

    beforeAll(async () => {
      const engine = testEngines().find((e) => e.engine === testCase.base)
      target = await privateDatabaseUrl(engine ?? { engine: 'sqlite' })
    })

    // Each test's apps stop when it ends: left running until afterAll, their pools' idle
    // connections added up past a stock PostgreSQL's 100 while other files ran beside this one.
    afterEach(async () => {
      await Promise.all(apps.splice(0).map((app) => app.stop()))
    })

    afterAll(async () => {
      await target?.drop()
    })

    /** A started app on the private database, its queue table emptied first. */
    async function start(
      modules: Module[],
      options: {
        workers?: JobsOptions['workers']
        logger?: ReturnType<typeof createLogger>
        keepRows?: boolean
        clock?: FakeClock
      } = {},
    ): Promise<{ app: TestApp; jobs: JobQueue }> {
      const app = createTestApp({
        modules,
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        database: target.url,
        jobs: { engine: testCase.engine, workers: options.workers ?? false },
        logger: options.logger ?? silent,
      })
      apps.push(app)
      await app.migrate()
      if (testCase.engine === 'database' && !options.keepRows) {
        const database = app.resolve(DATABASE)
        await database.connect()
        await sql`delete from mortar_job`.execute(database.root)
        await sql`delete from mortar_schedule`.execute(database.root)
      }
      await app.start()
      return { app, jobs: app.resolve(JOBS) }
    }

    for (const shared of engineCases) {
      it(shared.title, async () => {
        const made = shared.make()
        const { app, jobs } = await start([module(...made.jobs)])
        await made.check(jobs, app.resolve(DATABASE))
      })
    }

    it('runs jobs on the started worker as soon as their transaction commits', async () => {
      const done: number[] = []
      let resolveAll!: () => void
      const all = new Promise<void>((resolve) => {
        resolveAll = resolve
      })
      const count = defineJob({
        name: 'test.count',
        schema: z.object({ n: z.number().int() }),
        handler: ({ n }) => {
          done.push(n)
          if (done.length === 50) resolveAll()
        },
      })
      const { jobs } = await start([module(count)], { workers: { concurrency: 4, pollMs: 60_000 } })
      await jobs.enqueueMany(
        count,
        Array.from({ length: 50 }, (_, n) => ({ payload: { n } })),
      )
      // The poll is a minute away: only the after-commit wake-up can have started them.
      await all
      expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, n) => n))
    })

    // An app with two databases: the wake-up belongs to the enqueue's own transaction (the app
    // database's). Registered on the innermost, another database's, it fired at that one's
    // commit, before the jobs were visible, or never when that one rolled back: the jobs waited
    // for the next poll, here ten minutes away (past the test's timeout).
    it('wakes the worker at the commit of the enqueue’s own database, not another’s open inside it', async () => {
      const ran: string[] = []
      const waiting = new Map<string, () => void>()
      const ranJob = (text: string) =>
        new Promise<void>((resolve) => {
          if (ran.includes(text)) resolve()
          else waiting.set(text, resolve)
        })
      const note = defineJob({
        name: 'test.note',
        schema: z.object({ text: z.string() }),
        handler: ({ text }) => {
          ran.push(text)
          waiting.get(text)?.()
        },
      })
      // Claims counted, to enqueue only once the worker is idle: a claim still in flight could
      // find the job without any wake-up.
      const claims = { started: 0, settled: 0 }
      const queue = testCase.engine === 'inline' ? InlineQueue.prototype : SqlQueue.prototype
      const claim = queue.claim
      const counted = vi.spyOn(queue, 'claim').mockImplementation(async function (
        this: typeof queue,
        request,
      ) {
        claims.started += 1
        try {
          return await claim.call(this, request)
        } finally {
          claims.settled += 1
        }
      })
      onTestFinished(() => counted.mockRestore())
      const idleAfter = (started: number) =>
        vi.waitFor(() => {
          expect(claims.settled).toBeGreaterThan(started)
          expect(claims.settled).toBe(claims.started)
        })
      const other = new Database('sqlite::memory:')
      try {
        const { app, jobs } = await start([module(note)], { workers: { pollMs: 600_000 } })
        const database = app.resolve(DATABASE)
        await idleAfter(0)
        // The other database's transaction rolls back around an enqueue made outside any of the
        // app database's: the job is committed at once and must run.
        await expect(
          other.transaction(async () => {
            await jobs.enqueue(note, { text: 'outside' })
            throw new Error('declined')
          }),
        ).rejects.toThrow('declined')
        await ranJob('outside')
        // A finished job's worker claims again: enqueue once that claim is done.
        await idleAfter(claims.started)
        // The other database's transaction commits inside the app database's, whose commit
        // comes later: the job is there only from then on.
        await transaction(
          async () => {
            await other.transaction(() => jobs.enqueue(note, { text: 'inside' }))
            // Room for a wake-up at the other's commit to claim and find nothing.
            await new Promise((resolve) => setTimeout(resolve, 200))
          },
          { database },
        )
        await ranJob('inside')
        expect(ran).toEqual(['outside', 'inside'])
      } finally {
        await other.destroy()
      }
    })

    it('refuses a bad payload, a non-JSON one and an undeclared job at enqueue, storing nothing', async () => {
      const typed = defineJob({
        name: 'test.typed',
        schema: z.object({ email: z.email(), at: z.iso.datetime().optional() }),
        handler: () => undefined,
      })
      const dated = defineJob({
        name: 'test.dated',
        schema: z.object({ at: z.date() }),
        handler: () => undefined,
      })
      const stray = defineJob({
        name: 'test.stray',
        schema: z.object({}),
        handler: () => undefined,
      })
      const { jobs } = await start([module(typed, dated)])
      await expect(jobs.enqueue(typed, { email: 'not an address' })).rejects.toMatchObject({
        code: 'E_VALIDATION',
        issues: [expect.objectContaining({ path: 'email' })],
      })
      await expect(jobs.enqueue(dated, { at: new Date() })).rejects.toMatchObject({
        code: 'E_VALIDATION',
        message: expect.stringContaining('round trip through JSON'),
      })
      // A delay past the last instant a Date holds is no time at all: PostgreSQL's bigint refused
      // it inside the caller's transaction, SQLite stored a float no claim ever reached.
      // A number only: a string read from process.env ('5', '') was rounded into a delay.
      for (const delay of [Number.NaN, -1, 1e20, Number.MAX_VALUE, '5', '', true]) {
        await expect(
          jobs.enqueue(typed, { email: 'a@b.co' }, { delay: delay as number }),
        ).rejects.toMatchObject({ code: 'E_VALIDATION', issues: [{ path: 'delay' }] })
      }
      // A NaN or a string reached the driver as the SQL limit, a fraction or 0 listed nothing.
      for (const limit of [Number.NaN, 0, 1.5, -1, 10_001, '5']) {
        await expect(jobs.list({ limit: limit as number })).rejects.toMatchObject({
          code: 'E_VALIDATION',
          issues: [{ path: 'limit' }],
        })
      }
      await expect(jobs.drain({ timeoutMs: '5' as unknown as number })).rejects.toThrow(TypeError)
      await expect(jobs.enqueue(stray, {})).rejects.toBeInstanceOf(JobError)
      await expect(jobs.enqueue(stray, {})).rejects.toMatchObject({ code: 'E_JOB_UNDECLARED' })
      expect((await jobs.status()).counts).toEqual([])
    })

    it('retries with backoff, then keeps the dead job with every attempt’s error', async () => {
      let calls = 0
      const flaky = defineJob({
        name: 'test.flaky',
        schema: z.object({}),
        attempts: 3,
        backoff: { baseMs: 1_000, maxMs: 1_000 },
        handler: () => {
          calls += 1
          throw new Error(`failure ${calls}`)
        },
      })
      const { app, jobs } = await start([module(flaky)])
      const id = await jobs.enqueue(flaky, {})
      await jobs.drain()
      const waiting = await jobs.get(id as string)
      // Full jitter may pick a wait of 0, in which case the retry already ran.
      if (calls === 1) {
        expect(waiting?.state).toBe('scheduled')
        expect(waiting?.runAt.getTime()).toBeLessThanOrEqual(app.clock.nowMs() + 1_000)
      }
      for (let tick = 0; tick < 5 && calls < 3; tick++) {
        app.clock.advance(1_000)
        await jobs.drain()
      }
      expect(calls).toBe(3)
      const dead = await jobs.get(id as string)
      expect(dead?.state).toBe('dead')
      expect(dead?.errors.map((error) => [error.attempt, error.message])).toEqual([
        [1, 'failure 1'],
        [2, 'failure 2'],
        [3, 'failure 3'],
      ])
      app.clock.advance(3_600_000)
      await jobs.drain()
      expect(calls).toBe(3)
      expect(await jobs.retry(id as string)).toBe(1)
      await jobs.drain()
      expect(calls).toBeGreaterThanOrEqual(4)
      await expect(jobs.retry('999999')).rejects.toMatchObject({ code: 'E_JOB_NOT_FOUND' })
    })

    it('waits as long as a RetryLaterJobError asks, at most a day, ignoring a bad delay; the last attempt still dies', async () => {
      const asked: Record<string, number> = {
        hour: 3_600_000,
        year: 365 * 86_400_000,
        nan: Number.NaN,
        negative: -1,
        infinite: Number.POSITIVE_INFINITY,
      }
      const calls: Record<string, number> = {}
      const limited = defineJob({
        name: 'test.rate-limited',
        schema: z.object({ label: z.string() }),
        attempts: 2,
        backoff: { baseMs: 0, maxMs: 0 },
        handler: ({ label }) => {
          calls[label] = (calls[label] ?? 0) + 1
          if (calls[label] === 1)
            throw new RetryLaterJobError('rate limited', { retryAfterMs: asked[label] as number })
        },
      })
      const once = defineJob({
        name: 'test.rate-limited-once',
        schema: z.object({}),
        attempts: 1,
        handler: () => {
          throw new RetryLaterJobError('rate limited', { retryAfterMs: 3_600_000 })
        },
      })
      const { app, jobs } = await start([module(limited, once)])
      const startMs = app.clock.nowMs()
      const ids: Record<string, string> = {}
      for (const label of Object.keys(asked))
        ids[label] = (await jobs.enqueue(limited, { label })) as string
      const onceId = (await jobs.enqueue(once, {})) as string
      await jobs.drain()
      // A delay that is no number of ms ≥ 0 is no hint: the backoff (0 here) alone decides.
      expect(calls).toEqual({ hour: 1, year: 1, nan: 2, negative: 2, infinite: 2 })
      expect((await jobs.get(ids.hour as string))?.runAt.getTime()).toBe(startMs + 3_600_000)
      expect((await jobs.get(ids.year as string))?.runAt.getTime()).toBe(startMs + 86_400_000)
      const dead = await jobs.get(onceId)
      expect(dead?.state).toBe('dead')
      expect(dead?.errors).toEqual([expect.objectContaining({ code: 'E_JOB_RETRY_LATER' })])

      app.clock.advance(3_599_999)
      await jobs.drain()
      expect(calls.hour).toBe(1)
      app.clock.advance(1)
      await jobs.drain()
      expect(calls.hour).toBe(2)
      app.clock.set(new Date(startMs + 86_399_999))
      await jobs.drain()
      expect(calls.year).toBe(1)
      app.clock.advance(1)
      await jobs.drain()
      expect(calls.year).toBe(2)
    })

    it('drains a retry that is due at once even when recording the failure first failed', async () => {
      let calls = 0
      const once = defineJob({
        name: 'test.once-flaky',
        schema: z.object({}),
        attempts: 3,
        backoff: { baseMs: 0, maxMs: 0 },
        handler: () => {
          calls += 1
          if (calls === 1) throw new Error('transient')
        },
      })
      const { jobs } = await start([module(once)])
      const adapter = (jobs as JobQueueService).adapter
      const fail = adapter.fail.bind(adapter)
      let refused = 0
      // The first write of the failed attempt is lost (a deadlock, a dropped connection): the
      // worker records it again a second later, while its drain has already claimed nothing.
      adapter.fail = (...args) => {
        if (refused++ === 0) return Promise.reject(new Error('deadlock found'))
        return fail(...args)
      }
      const id = await jobs.enqueue(once, {})
      await jobs.drain()
      expect(refused).toBe(2)
      expect(calls).toBe(2)
      expect(await jobs.get(id as string)).toBeUndefined()
    })

    it('runs a job its own worker claimed again while the first attempt still ran (the lease lapsed in an outage), and frees that slot', async () => {
      const clock = new FakeClock()
      const runs: number[] = []
      let firstRunning!: () => void
      const started = new Promise<void>((resolve) => {
        firstRunning = resolve
      })
      let endFirst!: () => void
      const firstEnds = new Promise<void>((resolve) => {
        endFirst = resolve
      })
      const held = defineJob({
        name: 'test.held',
        schema: z.object({}),
        async handler(_payload, job) {
          runs.push(job.attempt)
          if (job.attempt > 1) return
          firstRunning()
          await firstEnds
        },
      })
      const { jobs } = await start([module(held)], {
        clock,
        // One slot: the first attempt's entry left behind holds it for good.
        workers: { concurrency: 1, batchSize: 1, leaseMs: 60_000, pollMs: 10 },
      })
      const adapter = (jobs as JobQueueService).adapter
      const claim = adapter.claim.bind(adapter)
      let loseClaim = false
      let claimedAgain!: () => void
      const reclaimed = new Promise<void>((resolve) => {
        claimedAgain = resolve
      })
      // A claim lost to the outage: the worker claims under a new name from then on, and so
      // takes the job whose lease lapsed (no heartbeat got through) while it still runs it.
      adapter.claim = async (request) => {
        if (loseClaim) {
          loseClaim = false
          throw new Error('Connection lost: The server closed the connection.')
        }
        const claimed = await claim(request)
        if (claimed.some((job) => job.attempt === 2)) claimedAgain()
        return claimed
      }
      const id = await jobs.enqueue(held, {})
      await started
      loseClaim = true
      clock.advance(60_001)
      await reclaimed
      endFirst()
      await jobs.drain({ timeoutMs: 10_000 })
      expect(runs).toEqual([1, 2])
      expect(await jobs.get(id as string)).toBeUndefined()
    })

    it('writes an older attempt’s late failure under its own lease, never the newer attempt’s of the same job', async () => {
      const clock = new FakeClock()
      const made = supersededAttemptCase()
      const { jobs } = await start([module(...made.jobs)], {
        clock,
        workers: { concurrency: 2, batchSize: 2, leaseMs: 60_000, pollMs: 10 },
      })
      await made.check(jobs, () => clock.advance(60_001))
    })

    it('buries a job at once on a PermanentJobError and on a payload its schema no longer takes', async () => {
      let calls = 0
      const permanent = defineJob({
        name: 'test.permanent',
        schema: z.object({}),
        handler: () => {
          calls += 1
          throw new PermanentJobError('bad address')
        },
      })
      const deaths: unknown[] = []
      const strict = defineJob({
        name: 'test.strict',
        schema: z.object({ n: z.number() }),
        handler: () => {
          calls += 1
        },
        onDead: (payload, job) => void deaths.push([payload, job.error.code]),
      })
      const { jobs } = await start([module(permanent, strict)])
      const permanentId = await jobs.enqueue(permanent, {})
      // Written by older code, when the payload had another shape.
      const [staleId] = await raw(jobs, 'test.strict', { n: 'one' })
      await jobs.drain()
      expect(calls).toBe(1)
      expect((await jobs.get(permanentId as string))?.errors).toEqual([
        expect.objectContaining({
          attempt: 1,
          name: 'PermanentJobError',
          message: 'bad address',
          code: 'E_JOB_PERMANENT',
        }),
      ])
      const stale = await jobs.get(staleId as string)
      expect(stale?.state).toBe('dead')
      expect(stale?.errors).toEqual([
        expect.objectContaining({ attempt: 1, code: 'E_JOB_PAYLOAD' }),
      ])
      // Told, without a payload its schema cannot type.
      expect(deaths).toEqual([[undefined, 'E_JOB_PAYLOAD']])
    })

    it('buries a job whose last attempt’s worker died, instead of running it past its attempts, and tells onDead', async () => {
      let calls = 0
      const deaths: unknown[] = []
      const fragile = defineJob({
        name: 'test.fragile',
        schema: z.object({ order: z.string() }),
        attempts: 1,
        handler: () => {
          calls += 1
        },
        onDead: (payload, job) => void deaths.push([payload, job.attempt, job.error.code]),
      })
      const { app, jobs } = await start([module(fragile)])
      const id = await jobs.enqueue(fragile, { order: 'o-1' })
      // A worker claims it, then dies: its lease runs out.
      const nowMs = app.clock.nowMs()
      await (jobs as JobQueueService).adapter.claim({
        worker: 'dead-worker',
        names: ['test.fragile'],
        limit: 1,
        nowMs,
        leaseMs: 30_000,
      })
      app.clock.advance(30_000)
      await jobs.drain()
      expect(calls).toBe(0)
      const dead = await jobs.get(id as string)
      expect(dead?.state).toBe('dead')
      expect(dead?.errors).toEqual([expect.objectContaining({ attempt: 2, code: 'E_JOB_LOST' })])
      // Its owner hears of it, though no handler ran to say so.
      expect(deaths).toEqual([[{ order: 'o-1' }, 2, 'E_JOB_LOST']])
    })

    it('aborts the signal and fails the attempt when a job passes its timeout', async () => {
      let aborted: unknown
      const slow = defineJob({
        name: 'test.slow',
        schema: z.object({}),
        attempts: 1,
        timeout: 50,
        handler: (_payload, job) =>
          new Promise<void>((resolve) => {
            job.signal.addEventListener('abort', () => {
              aborted = job.signal.reason
              setTimeout(resolve, 10_000).unref()
            })
          }),
      })
      const { jobs } = await start([module(slow)])
      const id = await jobs.enqueue(slow, {})
      await jobs.drain()
      expect(aborted).toMatchObject({ code: 'E_JOB_TIMEOUT' })
      const dead = await jobs.get(id as string)
      expect(dead?.errors).toEqual([expect.objectContaining({ code: 'E_JOB_TIMEOUT' })])
    })

    it('disposes the scope of a job that ran past its timeout when its handler settles, not before', async () => {
      const SCOPED = token<{ disposed: boolean; dispose(): void }>('test.late-scoped')
      const made: { disposed: boolean }[] = []
      const ended: string[] = []
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const late = defineJob({
        name: 'test.late',
        schema: z.object({ early: z.boolean() }),
        attempts: 1,
        timeout: 20,
        handler: async ({ early }, job) => {
          // Resolved before the timeout (and in use after it), or first after it.
          const before = early ? job.resolve(SCOPED) : undefined
          await new Promise((resolve) => job.signal.addEventListener('abort', resolve))
          const after = job.resolve(SCOPED)
          await gate
          ended.push(before === undefined || before === after ? 'same' : 'other')
        },
      })
      const { jobs } = await start([
        defineModule({
          name: 'late',
          register: (binder) =>
            binder.bind(SCOPED, {
              useFactory: () => {
                const value = {
                  disposed: false,
                  dispose() {
                    value.disposed = true
                  },
                }
                made.push(value)
                return value
              },
              lifetime: 'scoped',
            }),
          jobs: [late],
        }),
      ])
      await jobs.enqueueMany(late, [{ payload: { early: true } }, { payload: { early: false } }])
      await jobs.drain({ timeoutMs: 5_000 })
      expect(made).toHaveLength(2)
      // Both attempts failed on their timeout; their handlers still run with their scopes.
      expect(made.map((value) => value.disposed)).toEqual([false, false])
      release()
      await expect.poll(() => ended).toHaveLength(2)
      expect(ended).toEqual(['same', 'same'])
      await expect.poll(() => made.map((value) => value.disposed)).toEqual([true, true])
    })

    it('times out an attempt that held the event loop past its timeout in the turn it started', async () => {
      // Its timer is set at the end of that turn for what is left of the timeout: nothing left,
      // it must fire at once, not wait a whole timeout more or never.
      let aborted: unknown
      const blocking = defineJob({
        name: 'test.blocking',
        schema: z.object({}),
        attempts: 1,
        timeout: 20,
        handler: (_payload, job) => {
          const until = performance.now() + 60
          while (performance.now() < until) {
            // Holds the turn the attempt started in past its timeout.
          }
          return new Promise<void>((resolve) => {
            job.signal.addEventListener('abort', () => {
              aborted = job.signal.reason
              resolve()
            })
          })
        },
      })
      const { jobs } = await start([module(blocking)])
      const id = await jobs.enqueue(blocking, {})
      await jobs.drain({ timeoutMs: 5_000 })
      expect(aborted).toMatchObject({ code: 'E_JOB_TIMEOUT' })
      const dead = await jobs.get(id as string)
      expect(dead?.errors).toEqual([expect.objectContaining({ code: 'E_JOB_TIMEOUT' })])
    })

    it('shows a running job’s progress in status()', async () => {
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      let reported!: () => void
      const progressed = new Promise<void>((resolve) => {
        reported = resolve
      })
      const long = defineJob({
        name: 'test.long',
        schema: z.object({}),
        async handler(_payload, job) {
          await expect(job.progress(Number.NaN)).rejects.toMatchObject({ code: 'E_VALIDATION' })
          await job.progress({ done: 3, of: 10 })
          reported()
          await gate
        },
      })
      const { jobs } = await start([module(long)])
      const id = await jobs.enqueue(long, {})
      const drained = jobs.drain()
      await progressed
      const status = await jobs.status()
      expect(status.running.map((job) => [job.id, job.progress])).toEqual([
        [id, { done: 3, of: 10 }],
      ])
      expect(status.counts).toEqual([{ name: 'test.long', state: 'running', count: 1 }])
      release()
      await drained
    })

    it('writes an `alongside` row with its jobs: both commit, or neither after a rollback', async () => {
      const handled: string[] = []
      const send = defineJob({
        name: 'test.send',
        schema: z.object({ id: z.string() }),
        handler: ({ id }) => {
          handled.push(id)
        },
      })
      const { app, jobs } = await start([module(send)])
      const database = app.resolve(DATABASE)
      await sql`drop table if exists test_outgoing`.execute(database.root)
      await sql`create table test_outgoing (id varchar(36) primary key)`.execute(database.root)
      const db = database.kysely as Kysely<{ test_outgoing: { id: string } }>
      const write = (ids: string[]) =>
        jobs.enqueueMany(
          send,
          ids.map((id) => ({ payload: { id } })),
          { alongside: db.insertInto('test_outgoing').values(ids.map((id) => ({ id }))) },
        )
      await expect(
        transaction(async () => {
          await write(['r1', 'r2'])
          throw new Error('payment declined')
        }),
      ).rejects.toThrow('payment declined')
      const ids = await transaction(() => write(['c1', 'c2']))
      expect(ids.every((id) => id !== undefined)).toBe(true)
      // Outside a transaction: the queue opens one, though the builder was made before it.
      expect(await write(['o1'])).toHaveLength(1)
      const stored = await db.selectFrom('test_outgoing').select('id').orderBy('id').execute()
      expect(stored.map((row) => row.id)).toEqual(['c1', 'c2', 'o1'])
      await jobs.drain()
      expect(handled.sort()).toEqual(['c1', 'c2', 'o1'])
    })

    it('keeps one live job per key', async () => {
      const keyed = defineJob({
        name: 'test.keyed',
        schema: z.object({}),
        handler: () => undefined,
      })
      const { jobs } = await start([module(keyed)])
      const first = await jobs.enqueue(keyed, {}, { key: 'order:1' })
      expect(first).toBeDefined()
      expect(await jobs.enqueue(keyed, {}, { key: 'order:1' })).toBeUndefined()
      await jobs.drain()
      expect(await jobs.enqueue(keyed, {}, { key: 'order:1' })).toBeDefined()
    })

    it('keeps keys apart that differ only in case, accents or trailing spaces', async () => {
      const keyed = defineJob({
        name: 'test.keyed-exact',
        schema: z.object({}),
        handler: () => undefined,
      })
      const { jobs } = await start([module(keyed)])
      const keys = ['order:a', 'order:a ', 'order:A', 'order:á', 'order:a  ', 'order:a\t']
      for (const key of keys) expect(await jobs.enqueue(keyed, {}, { key })).toBeDefined()
      // A lone surrogate has no UTF-8 form: stored as U+FFFD, two such keys would be one.
      for (const key of ['order:\uD800', 'order:\uDBFF', 'order:\uDC00x', 'order:\u0000']) {
        await expect(jobs.enqueue(keyed, {}, { key })).rejects.toThrow(/key must be/)
      }
      for (const key of keys) expect(await jobs.enqueue(keyed, {}, { key })).toBeUndefined()
      expect((await jobs.list({ state: 'pending' })).map((job) => job.key).sort()).toEqual(
        [...keys].sort(),
      )
    })

    it('keeps keys apart per job: one job’s key never drops another job’s', async () => {
      const ran: string[] = []
      const receipt = defineJob({
        name: 'test.receipt',
        schema: z.object({}),
        handler: () => void ran.push('receipt'),
      })
      const invoice = defineJob({
        name: 'test.invoice',
        schema: z.object({}),
        handler: () => void ran.push('invoice'),
      })
      const { jobs } = await start([module(receipt, invoice)])
      expect(await jobs.enqueue(receipt, {}, { key: 'order:1' })).toBeDefined()
      expect(await jobs.enqueue(invoice, {}, { key: 'order:1' })).toBeDefined()
      expect(await jobs.enqueue(invoice, {}, { key: 'order:1' })).toBeUndefined()
      expect(
        (await jobs.list({ state: 'pending' })).map((job) => [job.name, job.key]).sort(),
      ).toEqual([
        ['test.invoice', 'order:1'],
        ['test.receipt', 'order:1'],
      ])
      await jobs.drain()
      expect(ran.sort()).toEqual(['invoice', 'receipt'])
    })

    it('runs a delayed job only once the clock reaches it', async () => {
      const ran: string[] = []
      const later = defineJob({
        name: 'test.later',
        schema: z.object({ label: z.string() }),
        handler: ({ label }) => {
          ran.push(label)
        },
      })
      const { app, jobs } = await start([module(later)])
      await jobs.enqueue(later, { label: 'delay' }, { delay: 60_000 })
      await jobs.enqueue(
        later,
        { label: 'runAt' },
        { runAt: new Date(app.clock.nowMs() + 120_000) },
      )
      await jobs.drain()
      expect(ran).toEqual([])
      app.clock.advance(60_000)
      await jobs.drain()
      expect(ran).toEqual(['delay'])
      app.clock.advance(60_000)
      await jobs.drain()
      expect(ran).toEqual(['delay', 'runAt'])
    })

    it('leaves a job no module declares in the queue and says so', async () => {
      const lines: string[] = []
      const logger = createLogger({
        level: 'warn',
        destination: { write: (line: string) => void lines.push(line) },
      })
      const current = defineJob({
        name: 'test.current',
        schema: z.object({}),
        handler: () => undefined,
      })
      const first = await start([module(current)])
      // Written by code that declared 'test.legacy', then deployed away.
      await raw(first.jobs, 'test.legacy', {})
      const { jobs } =
        testCase.engine === 'inline'
          ? first // memory dies with its process: there is no later deploy to read it
          : await start([module(current)], { workers: { pollMs: 60_000 }, logger, keepRows: true })
      await jobs.drain()
      const status = await jobs.status()
      expect(status.unknownNames).toEqual(['test.legacy'])
      expect(status.counts).toEqual([{ name: 'test.legacy', state: 'pending', count: 1 }])
      if (testCase.engine !== 'inline') {
        await expect.poll(() => lines.join('')).toContain('no module of this app declares them')
      }
    })

    it('gives each job its own scope for scoped providers', async () => {
      const SCOPED = token<{ id: number }>('test.scoped')
      let next = 0
      const seen: number[] = []
      const scoped = defineJob({
        name: 'test.scoped',
        schema: z.object({}),
        handler: (_payload, job) => {
          seen.push(job.resolve(SCOPED).id, job.resolve(SCOPED).id)
        },
      })
      const { jobs } = await start([
        defineModule({
          name: 'scoped',
          register: (binder) =>
            binder.bind(SCOPED, { useFactory: () => ({ id: ++next }), lifetime: 'scoped' }),
          jobs: [scoped],
        }),
      ])
      await jobs.enqueueMany(scoped, [{ payload: {} }, { payload: {} }])
      await jobs.drain()
      expect(seen.sort()).toEqual([1, 1, 2, 2])
    })

    it('on stop, lets a running job finish before the deadline and gives back one that does not', async () => {
      let started = 0
      let finished = 0
      let abortedBy: unknown
      const quick = defineJob({
        name: 'test.quick',
        schema: z.object({}),
        handler: () => {
          started += 1
          return new Promise<void>((resolve) => setTimeout(() => resolve(void finished++), 100))
        },
      })
      const stubborn = defineJob({
        name: 'test.stubborn',
        schema: z.object({}),
        handler: (_payload, job) => {
          started += 1
          return new Promise<void>((_, reject) => {
            job.signal.addEventListener('abort', () => {
              abortedBy = job.signal.reason
              reject(job.signal.reason)
            })
          })
        },
      })
      const { app, jobs } = await start([module(quick, stubborn)], { workers: { pollMs: 20 } })
      await jobs.enqueue(quick, {})
      const stubbornId = await jobs.enqueue(stubborn, {})
      await expect.poll(() => started).toBe(2)
      await app.stop({ timeoutMs: 1_000 })
      expect(finished).toBe(1)
      expect(abortedBy).toMatchObject({ code: 'E_JOBS_NOT_RUNNING' })
      // Back in the queue, due now, the interrupted attempt not counted.
      const next = await startFresh()
      const back = await next.get(stubbornId as string)
      expect(back).toMatchObject({ state: 'pending', attempts: 0, errors: [] })

      async function startFresh(): Promise<JobQueue> {
        if (testCase.engine === 'inline') {
          // The inline queue lives in the stopped app's memory: read it there.
          return jobs
        }
        return (await start([module(quick, stubborn)], { keepRows: true })).jobs
      }
    })

    it('runs at most `concurrency` handlers at once', async () => {
      let running = 0
      let most = 0
      const busy = defineJob({
        name: 'test.busy',
        schema: z.object({}),
        handler: async () => {
          running += 1
          most = Math.max(most, running)
          await new Promise((resolve) => setTimeout(resolve, 5))
          running -= 1
        },
      })
      const { jobs } = await start([module(busy)], { workers: { concurrency: 3, pollMs: 60_000 } })
      await jobs.enqueueMany(
        busy,
        Array.from({ length: 30 }, () => ({ payload: {} })),
      )
      await jobs.drain()
      expect(most).toBe(3)
    })

    it('works through a long queue in turns of the event loop, so timers (its heartbeat) run and finished jobs are written batch by batch', async () => {
      const total = 2_000
      let ran = 0
      const tick = defineJob({
        name: 'test.tick',
        schema: z.object({}),
        handler: () => {
          ran += 1
        },
      })
      const { jobs } = await start([module(tick)])
      await jobs.enqueueMany(
        tick,
        Array.from({ length: total }, () => ({ payload: {} })),
      )
      const adapter = (jobs as JobQueueService).adapter
      const complete = adapter.complete.bind(adapter)
      let completions = 0
      adapter.complete = (worker, ids) => {
        completions += 1
        return complete(worker, ids)
      }
      // A timer, as the heartbeat is: it must fire while the queue is being worked through.
      const seen: number[] = []
      const probe = setInterval(() => seen.push(ran), 0)
      try {
        await jobs.drain()
      } finally {
        clearInterval(probe)
        adapter.complete = complete
      }
      expect(ran).toBe(total)
      expect(seen.some((n) => n > 0 && n < total)).toBe(true)
      expect(completions).toBeGreaterThan(1)
    })

    it('fires each tick once across processes, with the FakeClock driving', async () => {
      const fired: string[] = []
      const clock = new FakeClock('2026-03-01T09:00:30Z')
      const every = () =>
        defineModule({
          name: 'ticks',
          register() {},
          schedules: [
            schedule(
              'test.every-minute',
              { every: '1m' },
              (tick) => void fired.push(tick.at.toISOString()),
            ),
          ],
        })
      // Three apps on one database stand for three processes; the inline queue is one process.
      const processes = testCase.engine === 'inline' ? 1 : 3
      const running: JobQueue[] = []
      for (let p = 0; p < processes; p++) {
        running.push((await start([every()], { clock, keepRows: p > 0 })).jobs)
      }
      for (let tick = 0; tick < 20; tick++) {
        clock.advance(60_000)
        await Promise.all(running.map((jobs) => jobs.drain()))
      }
      const expected = Array.from({ length: 20 }, (_, n) =>
        new Date(Date.parse('2026-03-01T09:01:00Z') + n * 60_000).toISOString(),
      )
      expect(fired.sort()).toEqual(expected)
    })

    // Not declared for the inline queue: its schedules live in one process's memory, so there is
    // no restart to survive.
    if (testCase.engine !== 'inline') {
      it('fires ticks missed while no process ran once, on start, and never twice after a restart', async () => {
        const fired: string[] = []
        const clock = new FakeClock('2026-03-01T09:00:30Z')
        const nightly = () =>
          defineModule({
            name: 'nightly',
            register() {},
            schedules: [
              schedule(
                'test.hourly',
                { cron: '0 * * * *' },
                (tick) => void fired.push(tick.at.toISOString()),
              ),
            ],
          })
        const first = await start([nightly()], { clock })
        await first.jobs.drain()
        await first.app.stop()
        clock.advance(5 * 3_600_000) // five ticks pass with nothing running
        const second = await start([nightly()], { clock, keepRows: true })
        await second.jobs.drain()
        expect(fired).toEqual(['2026-03-01T10:00:00.000Z'])
        await second.app.stop()
        const third = await start([nightly()], { clock, keepRows: true })
        await third.jobs.drain()
        expect(fired).toEqual(['2026-03-01T10:00:00.000Z'])
        clock.set('2026-03-01T15:00:00Z')
        await third.jobs.drain()
        expect(fired).toEqual(['2026-03-01T10:00:00.000Z', '2026-03-01T15:00:00.000Z'])
      })
    }
  })
}
