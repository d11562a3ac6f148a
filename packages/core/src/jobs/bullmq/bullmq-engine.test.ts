import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net'
import { type Kysely, sql } from 'kysely'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineModule, type Module } from '../../app/define-module.js'
import type { App } from '../../app/app.js'
import { createApp } from '../../app/create-app.js'
import { createLogger } from '../../logger/create-logger.js'
import type { Logger } from '../../logger/logger.js'
import { DATABASE } from '../../persistence/database/index.js'
import { transaction } from '../../persistence/transactions/index.js'
import { REDIS } from '../../redis/app-redis.js'
import {
  deleteRedisKeys,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  privateRedisPrefix,
  testEngines,
} from '../../testing/index.js'
import { defineJob, type JobDefinition } from '../define-job.js'
import { engineCases } from '../engine-cases.case.js'
import { RetryLaterJobError } from '../job-errors.js'
import { JOBS, type JobQueue } from '../job-queue.js'
import { supersededAttemptCase } from '../superseded-attempt.case.js'
import type { JobQueueService } from '../job-queue-service.js'
import type { WorkerSettings } from '../worker/worker.js'

const redisUrl = process.env.MORTAR_TEST_REDIS_URL
const silent = createLogger({ level: 'silent' })

function module(...jobs: JobDefinition[]): Module {
  return defineModule({ name: 'test', register() {}, jobs })
}

function until(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  return (async () => {
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out waiting')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })()
}

/**
 * A TCP relay to Redis that a test can cut and restore, as a network fault would, or stall: the
 * connections open then stop answering, never closed (a peer gone without a word), while new
 * ones work.
 */
async function redisProxy(target: string): Promise<{
  url: string
  cut(): Promise<void>
  restore(): Promise<void>
  stall(): void
  resume(): void
  connections(): number
  close(): Promise<void>
}> {
  const { hostname, port } = new URL(target)
  const sockets = new Set<Socket>()
  const clients = new Set<Socket>()
  // Redis's answers held back from each stalled connection.
  const held = new Map<Socket, Buffer[]>()
  let server: Server | undefined
  let listenPort = 0
  const open = () =>
    new Promise<void>((resolve) => {
      const listening = createServer((client) => {
        const upstream = tcpConnect(Number(port || 6379), hostname)
        for (const socket of [client, upstream]) {
          sockets.add(socket)
          socket.on('close', () => sockets.delete(socket))
          socket.on('error', () => undefined)
        }
        clients.add(client)
        client.on('close', () => clients.delete(client))
        upstream.on('data', (data: Buffer) => {
          const holding = held.get(client)
          if (holding === undefined) client.write(data)
          else holding.push(data)
        })
        client.pipe(upstream)
        client.on('close', () => upstream.destroy())
        upstream.on('close', () => client.destroy())
      })
      server = listening
      listening.listen(listenPort, '127.0.0.1', () => {
        listenPort = (listening.address() as { port: number }).port
        resolve()
      })
    })
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server?.close(() => resolve()))
    for (const socket of sockets) socket.destroy()
    await closed
  }
  const stall = () => {
    for (const client of clients) held.set(client, [])
  }
  const resume = () => {
    for (const [client, chunks] of held) for (const chunk of chunks) client.write(chunk)
    held.clear()
  }
  await open()
  return {
    url: `redis://127.0.0.1:${listenPort}`,
    cut,
    restore: open,
    stall,
    resume,
    connections: () => clients.size,
    close: cut,
  }
}

const engines = testEngines()

for (const engine of engines) {
  const skip = engine.skip ?? (redisUrl ? undefined : 'MORTAR_TEST_REDIS_URL is unset')
  if (skip) console.warn(`[@mortar/core] BullMQ engine on ${engine.title} skipped: ${skip}`)

  // Skipped only when a MORTAR_TEST_* variable is unset (the notice names it); .ci/run sets them.
  describe.skipIf(skip !== undefined)(`jobs: bullmq on ${engine.title}`, () => {
    let target: PrivateDatabaseUrl
    const cleanups: (() => Promise<unknown>)[] = []

    beforeAll(async () => {
      target = await privateDatabaseUrl(engine)
    })

    // Each app stops after its test: a worker relays every outbox row of the database it uses.
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
    })

    afterAll(async () => {
      await target?.drop()
    })

    async function start(
      modules: Module[],
      options: {
        workers?: Partial<WorkerSettings> | false
        redis?: string
        logger?: Logger
      } = {},
    ): Promise<{ app: App<undefined>; jobs: JobQueue; prefix: string }> {
      const prefix = privateRedisPrefix()
      // The system clock: BullMQ keeps its own time, so a FakeClock would disagree with it.
      const app = createApp({
        modules,
        database: target.url,
        redis: { url: options.redis ?? (redisUrl as string), prefix },
        jobs: { engine: 'bullmq', workers: options.workers ?? false },
        logger: options.logger ?? silent,
      })
      cleanups.push(() => deleteRedisKeys(redisUrl as string, prefix))
      cleanups.push(() => app.stop())
      await app.migrate()
      // The outbox is shared by the tests of one database: start each one empty.
      await sql`delete from mortar_job`.execute(app.resolve(DATABASE).root)
      await app.start()
      return { app, jobs: app.resolve(JOBS), prefix }
    }

    for (const shared of engineCases) {
      it(shared.title, async () => {
        const made = shared.make()
        const { app, jobs } = await start([module(...made.jobs)])
        expect(jobs.engine).toBe('bullmq')
        await made.check(jobs, app.resolve(DATABASE))
      })
    }

    it('buries a job whose last attempt’s worker died, once BullMQ’s stalled check gives it back, and tells onDead', async () => {
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
      const { jobs } = await start([module(fragile)])
      const id = await jobs.enqueue(fragile, { order: 'o-1' })
      // A worker takes it under a two-second lock, then dies: nothing renews the lock. The
      // queue's BullMQ worker is made by this claim, so its stalled check runs every two seconds
      // and the next claim's lock is as long: room for burying the job before it lapses.
      const nowMs = Date.now()
      const taken = await (jobs as JobQueueService).adapter.claim({
        worker: 'dead-worker',
        names: ['test.fragile'],
        limit: 1,
        nowMs,
        leaseMs: 2_000,
      })
      expect(taken.map((job) => job.id)).toEqual([id])
      // Back to waiting only through the stalled check; claimed again past its one attempt.
      await until(async () => {
        await jobs.drain()
        return deaths.length > 0
      }, 20_000)
      expect(calls).toBe(0)
      const dead = await jobs.get(id as string)
      expect(dead?.state).toBe('dead')
      expect(dead?.errors).toEqual([expect.objectContaining({ attempt: 2, code: 'E_JOB_LOST' })])
      expect(deaths).toEqual([[{ order: 'o-1' }, 2, 'E_JOB_LOST']])
    }, 30_000)

    it('writes an older attempt’s late failure under its own lease, never the newer attempt’s of the same job', async () => {
      const made = supersededAttemptCase()
      // The lease lapses in real time: BullMQ's lock, then its stalled check, give the job back.
      const { jobs } = await start([module(...made.jobs)], {
        workers: { concurrency: 2, batchSize: 2, leaseMs: 1_000, pollMs: 10 },
      })
      await made.check(jobs, () => undefined)
    }, 30_000)

    it('delays the retry a RetryLaterJobError asks for in BullMQ itself, and reports when it runs', async () => {
      let calls = 0
      let thrownAtMs = 0
      const limited = defineJob({
        name: 'test.rate-limited',
        schema: z.object({}),
        attempts: 2,
        backoff: { baseMs: 0, maxMs: 0 },
        handler: () => {
          calls += 1
          thrownAtMs = Date.now()
          throw new RetryLaterJobError('rate limited', { retryAfterMs: 3_600_000 })
        },
      })
      const { jobs } = await start([module(limited)])
      // It waits before its first run: the retry's time counts from that run, not the enqueue.
      const id = await jobs.enqueue(limited, {}, { delay: 400 })
      await until(async () => {
        await jobs.drain()
        return calls > 0 && (await jobs.get(id as string))?.state === 'scheduled'
      })
      const afterMs = Date.now()
      // BullMQ keeps machine time: the delayed job's time is asserted, not waited for.
      const waiting = await jobs.get(id as string)
      expect(calls).toBe(1)
      expect(waiting?.runAt.getTime()).toBeGreaterThanOrEqual(thrownAtMs + 3_600_000)
      expect(waiting?.runAt.getTime()).toBeLessThanOrEqual(afterMs + 3_600_000)
    })

    it('writes an `alongside` row only with its outbox rows, outside a transaction too', async () => {
      const send = defineJob({
        name: 'test.send',
        schema: z.object({ id: z.string() }),
        handler() {},
      })
      const { app, jobs } = await start([module(send)])
      const root = app.resolve(DATABASE).root
      await sql`drop table if exists test_outgoing`.execute(root)
      await sql`create table test_outgoing (id varchar(36) primary key)`.execute(root)
      const db = app.resolve(DATABASE).kysely as Kysely<{ test_outgoing: { id: string } }>
      // The outbox cannot take the jobs: the companion row must not stay behind without them.
      await sql`alter table mortar_job rename to mortar_job_away`.execute(root)
      try {
        await expect(
          jobs.enqueueMany(send, [{ payload: { id: 'o1' } }], {
            alongside: db.insertInto('test_outgoing').values({ id: 'o1' }),
          }),
        ).rejects.toThrow()
      } finally {
        await sql`alter table mortar_job_away rename to mortar_job`.execute(root)
      }
      expect(await db.selectFrom('test_outgoing').select('id').execute()).toEqual([])
      // Every job dropped as a duplicate of a live one: the write is still the caller's.
      await jobs.enqueue(send, { id: 'k' }, { key: 'k' })
      await (jobs as JobQueueService).adapter.announce?.()
      const again = await jobs.enqueueMany(
        send,
        [{ payload: { id: 'k' }, options: { key: 'k' } }],
        {
          alongside: db.insertInto('test_outgoing').values({ id: 'k2' }),
        },
      )
      expect(again).toEqual([undefined])
      expect(await db.selectFrom('test_outgoing').select('id').execute()).toEqual([{ id: 'k2' }])
      await sql`drop table test_outgoing`.execute(root)
    })

    // Asked of BullMQ before the row was written, a relay that moved the key's live job there in
    // between went unseen: the enqueue returned an id, and BullMQ dropped the job at relay.
    it('gives no id to a keyed enqueue whose key a relay made live in BullMQ while it was written', async () => {
      const ran: number[] = []
      const keyed = defineJob({
        name: 'test.relay-race',
        schema: z.object({ n: z.number() }),
        handler: ({ n }) => void ran.push(n),
      })
      const { app, jobs } = await start([module(keyed)])
      const adapter = (jobs as JobQueueService).adapter
      const announce = adapter.announce?.bind(adapter) as () => Promise<void>
      const client = app.resolve(REDIS).client
      const exists = client.exists.bind(client)
      try {
        // The first job stays in the outbox until the second enqueue looks for its key.
        adapter.announce = async () => undefined
        expect(await jobs.enqueue(keyed, { n: 1 }, { key: 'k' })).toBeDefined()
        client.exists = (async (...keys: string[]) => {
          const found = await exists(...keys)
          await announce()
          return found
        }) as typeof client.exists
        const second = await jobs.enqueue(keyed, { n: 2 }, { key: 'k' })
        client.exists = exists
        adapter.announce = announce
        await announce()
        await jobs.drain()
        expect(ran).toEqual([1])
        expect(second).toBeUndefined()
      } finally {
        client.exists = exists
        adapter.announce = announce
      }
    })

    if (engine.engine === 'mysql') {
      it('relays the outbox while a transaction holds an enqueue, and that transaction enqueues again without a deadlock', async () => {
        const send = defineJob({
          name: 'test.send',
          schema: z.object({ id: z.string() }),
          handler() {},
        })
        const { app, jobs } = await start([module(send)])
        const root = app.resolve(DATABASE).root
        const adapter = (jobs as JobQueueService).adapter
        const outbox = async () =>
          Number(
            (await sql<{ n: number }>`select count(*) as n from mortar_job`.execute(root)).rows[0]
              ?.n,
          )
        let relay: Promise<unknown> | undefined
        let settled = false
        // Committed rows that no relay has taken yet, before the one the transaction holds.
        const now = Date.now()
        await sql`insert into mortar_job (name, payload, run_at, max_attempts, created_at)
          values ${sql.join(Array.from({ length: 8 }, (_, n) => sql`('test.send', ${JSON.stringify({ id: `c${n}` })}, ${now}, 3, ${now})`))}`.execute(
          root,
        )
        await transaction(async () => {
          await jobs.enqueue(send, { id: 'held' })
          relay = adapter.announce?.().finally(() => {
            settled = true
          })
          // Until the relay is done, or deletes what it sent and waits for the held row, the
          // next one: at repeatable read it then holds the gap at the end of the table, where
          // this transaction's next row goes.
          await until(
            async () =>
              settled ||
              Number(
                (
                  await sql<{ n: number }>`select count(*) as n from information_schema.processlist
                    where db = database() and info like 'delete from mortar_job%'`.execute(root)
                ).rows[0]?.n,
              ) > 0,
          )
          await jobs.enqueue(send, { id: 'next' })
        })
        await relay
        await adapter.announce?.()
        expect(await outbox()).toBe(0)
      })
    }

    it('runs jobs on the started workers after commit, each once, as BullMQ jobs', async () => {
      // More than one relay batch (1,000 rows): the backlog is relayed on several lanes, and
      // workers fetch the next job with each completion.
      const JOBS_N = 2_500
      const done: number[] = []
      const count = defineJob({
        name: 'test.count',
        schema: z.object({ n: z.number().int() }),
        handler: ({ n }) => {
          done.push(n)
        },
      })
      const { app, jobs, prefix } = await start([module(count)], {
        workers: { concurrency: 8, pollMs: 60_000 },
      })
      const ids = await jobs.enqueueMany(
        count,
        Array.from({ length: JOBS_N }, (_, n) => ({ payload: { n } })),
      )
      // The poll is a minute away: only the after-commit relay and wake-up can have started them.
      await until(() => done.length >= JOBS_N)
      expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: JOBS_N }, (_, n) => n))
      expect(new Set(ids).size).toBe(JOBS_N)
      // The outbox row's id is the BullMQ job id: finished jobs are gone from BullMQ too.
      expect(await app.resolve(REDIS).client.exists(`${prefix}jobs:test.count:${ids[0]}`)).toBe(0)
    })

    it('leaves a job no module declares waiting in BullMQ and names it in status()', async () => {
      const known = defineJob({ name: 'test.known', schema: z.object({}), handler: () => {} })
      const { jobs } = await start([module(known)])
      const [id] = await (jobs as JobQueueService).adapter.enqueue([
        {
          name: 'test.gone',
          payload: '{}',
          runAtMs: Date.now(),
          createdAtMs: Date.now(),
          maxAttempts: 3,
          key: undefined,
        },
      ])
      await jobs.drain()
      const status = await jobs.status()
      expect(status.unknownNames).toEqual(['test.gone'])
      expect((await jobs.get(id as string))?.state).toBe('pending')
    })

    it('gives up a claim its connection never answers, at its lease, and runs the jobs on a new connection', async () => {
      const ran: number[] = []
      const note = defineJob({
        name: 'test.stall',
        schema: z.object({ n: z.number() }),
        handler: ({ n }) => {
          ran.push(n)
        },
      })
      const proxy = await redisProxy(redisUrl as string)
      cleanups.push(() => proxy.close())
      cleanups.push(async () => proxy.resume())
      const lines: string[] = []
      const { prefix } = await start([module(note)], {
        redis: proxy.url,
        workers: { leaseMs: 1_000, pollMs: 50 },
        logger: createLogger({
          level: 'warn',
          destination: { write: (line: string) => void lines.push(line) },
        }),
      })
      // The worker has claimed: the app's connection, its queue's and BullMQ's blocking one.
      await until(() => proxy.connections() >= 3)
      // Every connection the app has open stops answering, as a peer gone without a word.
      proxy.stall()
      // Another app, on Redis itself, enqueues and relays the jobs.
      const writer = createApp({
        modules: [module(note)],
        database: target.url,
        redis: { url: redisUrl as string, prefix },
        jobs: { engine: 'bullmq', workers: false },
        logger: silent,
      })
      cleanups.push(() => writer.stop())
      await writer.start()
      await writer.resolve(JOBS).enqueueMany(
        note,
        [0, 1, 2].map((n) => ({ payload: { n } })),
      )
      await (writer.resolve(JOBS) as JobQueueService).adapter.announce?.()
      // A claim waits on a connection that never answers: given up at its lease, said aloud,
      // and the jobs run on a connection opened afresh, the stalled ones still open.
      await until(() => ran.length === 3, 20_000)
      expect(ran.sort()).toEqual([0, 1, 2])
      expect(lines.join('')).toContain('E_JOBS_CLAIM_TIMEOUT')
    }, 30_000)

    it('makes no worker nor connection once closed: a claim answering late fails instead', async () => {
      const note = defineJob({ name: 'test.closed', schema: z.object({}), handler() {} })
      const { jobs } = await start([module(note)])
      const adapter = (jobs as JobQueueService).adapter
      await adapter.close?.()
      // A claim still running as its app stopped: its BullMQ worker (and that worker's own
      // blocking connection) would be made after close() and never closed.
      const nowMs = Date.now()
      await expect(
        adapter.claim({
          worker: 'late',
          names: ['test.closed'],
          limit: 1,
          nowMs,
          leaseMs: 30_000,
        }),
      ).rejects.toMatchObject({ code: 'E_JOBS_NOT_RUNNING' })
    })

    it('commits an enqueue while Redis is unreachable and relays it once Redis is back', async () => {
      const ran: string[] = []
      const note = defineJob({
        name: 'test.outage',
        schema: z.object({ text: z.string() }),
        handler: ({ text }) => {
          ran.push(text)
        },
      })
      const proxy = await redisProxy(redisUrl as string)
      cleanups.push(() => proxy.close())
      const { app, jobs } = await start([module(note)], {
        redis: proxy.url,
        workers: { pollMs: 100 },
      })
      await proxy.cut()
      await transaction(async () => {
        await jobs.enqueue(note, { text: 'kept' })
      })
      // Committed: the outbox holds it while Redis is away.
      const outbox = await sql<{ payload: string }>`select payload from mortar_job`.execute(
        app.resolve(DATABASE).root,
      )
      expect(outbox.rows.map((row) => row.payload)).toEqual(['{"text":"kept"}'])
      await proxy.restore()
      await until(() => ran.length === 1, 20_000)
      expect(ran).toEqual(['kept'])
    }, 30_000)
  })
}
