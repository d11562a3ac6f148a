import { sql } from 'kysely'
import { describe, expect, it, vi } from 'vitest'
import * as vitest from 'vitest'
import { createLogger } from '../../logger/create-logger.js'
import { AppRedis } from '../../redis/app-redis.js'
import {
  deleteRedisKeys,
  privateRedisPrefix,
  type QueueSubject,
  queueConformance,
  testEngines,
} from '../../testing/index.js'
import { SqlQueue } from '../sql/sql-queue.js'
import { BullmqQueue } from './bullmq-queue.js'
import { privateJobsDatabase } from '../sql/private-jobs-database.case.js'

const redisUrl = process.env.MORTAR_TEST_REDIS_URL
const logger = createLogger({ level: 'silent' })

for (const engine of testEngines()) {
  const skip = engine.skip ?? (redisUrl ? undefined : 'MORTAR_TEST_REDIS_URL is unset')
  const jobsDb = privateJobsDatabase(engine, { pool: 12, skip })

  async function subject(
    sweepMs?: number,
  ): Promise<QueueSubject & { adapter: BullmqQueue; redis: AppRedis }> {
    const db = jobsDb.database()
    // A fresh queue per case in the one private database: empty the outbox first.
    await sql`delete from mortar_job`.execute(db.root)
    const prefix = privateRedisPrefix()
    const redis = new AppRedis({ url: redisUrl as string, prefix }, logger)
    await redis.connect()
    const adapter = new BullmqQueue({
      database: db,
      redis,
      logger,
      ...(sweepMs === undefined ? {} : { sweepMs }),
    })
    return {
      adapter,
      redis,
      transaction: (fn) => db.transaction(fn),
      // BullMQ stamps jobs and expires locks in Redis, on its own clock; a lease is at least
      // a second there (the engine's shortest lock).
      leaseMs: 1_000,
      async dispose() {
        await adapter.close()
        await redis.close()
        await deleteRedisKeys(redisUrl as string, prefix)
      },
    }
  }

  queueConformance(vitest, `BullmqQueue on ${engine.title}`, subject, { skip })

  /** Empties the outbox and restarts its row ids, as a restore or a reset of the database does. */
  async function restartRowIds(): Promise<void> {
    const db = jobsDb.database().root
    if (engine.engine === 'postgres') await sql`truncate mortar_job restart identity`.execute(db)
    else if (engine.engine === 'mysql') await sql`truncate table mortar_job`.execute(db)
    else {
      await sql`delete from mortar_job`.execute(db)
      await sql`delete from sqlite_sequence where name = 'mortar_job'`.execute(db)
    }
  }

  /**
   * Makes the relay's removal of outbox rows fail after BullMQ has their jobs: the delete on
   * SQLite and MariaDB, the commit on PostgreSQL (which deletes before it adds). Returns the undo.
   */
  async function failOutboxDeletes(): Promise<() => Promise<void>> {
    const db = jobsDb.database().root
    if (engine.engine === 'postgres') {
      await sql`create or replace function mortar_test_no_delete() returns trigger
        language plpgsql as $$ begin raise exception 'no delete'; end $$`.execute(db)
      await sql`create constraint trigger mortar_test_no_delete after delete on mortar_job
        deferrable initially deferred for each row execute function mortar_test_no_delete()`.execute(
        db,
      )
      return async () => {
        await sql`drop trigger mortar_test_no_delete on mortar_job`.execute(db)
      }
    }
    if (engine.engine === 'mysql') {
      await sql`create trigger mortar_test_no_delete before delete on mortar_job for each row
        signal sqlstate '45000' set message_text = 'no delete'`.execute(db)
    } else {
      await sql`create trigger mortar_test_no_delete before delete on mortar_job
        begin select raise(abort, 'no delete'); end`.execute(db)
    }
    return async () => {
      await sql`drop trigger mortar_test_no_delete`.execute(db)
    }
  }

  /**
   * Enqueues one job of name `a` and relays it while {@link failOutboxDeletes} holds: BullMQ takes
   * the job, the row's delete (or its commit) fails, so the row stays. Returns its id.
   */
  async function relayOutliving(adapter: BullmqQueue): Promise<string> {
    const now = Date.now()
    const [id] = await adapter.enqueue([
      { name: 'a', payload: '{}', runAtMs: now, createdAtMs: now, maxAttempts: 3, key: undefined },
    ])
    await expect(adapter.announce()).rejects.toThrow(/no delete/)
    return id as string
  }

  // Skipped only when a MORTAR_TEST_* variable is unset (the notice names it); .ci/run sets them.
  describe.skipIf(skip !== undefined)(`BullmqQueue on ${engine.title}`, () => {
    it('hands a job fetched with a completion to the next claim, and gives it back uncounted on close', async () => {
      const { adapter, dispose } = await subject()
      try {
        const now = Date.now()
        const ids = await adapter.enqueue(
          [1, 2, 3].map((n) => ({
            name: 'a',
            payload: `{"n":${n}}`,
            runAtMs: now,
            createdAtMs: now,
            maxAttempts: 3,
            key: undefined,
          })),
        )
        await adapter.announce()
        const claim = () =>
          adapter.claim({
            worker: 'w1',
            names: ['a'],
            limit: 1,
            nowMs: Date.now(),
            leaseMs: 30_000,
          })
        // A full claim: the worker wants more, so each completion fetches the next job for it.
        expect((await claim()).map((job) => job.id)).toEqual([ids[0]])
        expect(await adapter.complete('w1', [ids[0] as string])).toEqual([ids[0]])
        expect((await adapter.get(ids[1] as string, Date.now()))?.worker).toBe('w1')
        expect((await claim()).map((job) => [job.id, job.attempt])).toEqual([[ids[1], 1]])
        await adapter.complete('w1', [ids[1] as string])
        expect((await adapter.get(ids[2] as string, Date.now()))?.state).toBe('running')
        await adapter.close()
        const back = await adapter.get(ids[2] as string, Date.now())
        expect([back?.state, back?.attempts]).toEqual(['pending', 0])
      } finally {
        await dispose?.()
      }
    })

    it('loses no job when the row ids restart while Redis keeps the jobs of the old ones', async () => {
      const { adapter, dispose } = await subject()
      try {
        const job = (n: number) => ({
          name: 'a',
          payload: `{"n":${n}}`,
          runAtMs: Date.now(),
          createdAtMs: Date.now(),
          maxAttempts: 3,
          key: undefined,
        })
        await restartRowIds()
        const [first] = await adapter.enqueue([job(1)])
        await adapter.announce()
        // The database starts over (a restore, a reset, another schema on this Redis prefix).
        await restartRowIds()
        const [second] = await adapter.enqueue([job(2)])
        await adapter.announce()
        expect(second).not.toBe(first)
        expect((await adapter.get(second as string, Date.now()))?.payload).toEqual({ n: 2 })
        const claimed = await adapter.claim({
          worker: 'w1',
          names: ['a'],
          limit: 10,
          nowMs: Date.now(),
          leaseMs: 30_000,
        })
        expect(claimed.map((c) => [c.id, c.payload]).sort()).toEqual(
          [
            [first, '{"n":1}'],
            [second, '{"n":2}'],
          ].sort(),
        )
      } finally {
        await dispose?.()
      }
    })

    it('runs a job relayed under a row id alone, as a Mortar before row tokens relayed it', async () => {
      const { adapter, dispose } = await subject()
      try {
        const now = Date.now()
        // A row an older Mortar wrote to the outbox: no token.
        const [row] = await new SqlQueue({ database: jobsDb.database() }).enqueue([
          {
            name: 'a',
            payload: '{"old":true}',
            runAtMs: now,
            createdAtMs: now,
            maxAttempts: 3,
            key: undefined,
          },
        ])
        const id = `j${row as string}`
        expect((await adapter.get(id, Date.now()))?.state).toBe('pending')
        await adapter.announce()
        expect((await adapter.list({ nowMs: Date.now(), limit: 10 })).map((j) => j.id)).toEqual([
          id,
        ])
        const [claimed] = await adapter.claim({
          worker: 'w1',
          names: ['a'],
          limit: 1,
          nowMs: Date.now(),
          leaseMs: 30_000,
        })
        expect([claimed?.id, claimed?.payload]).toEqual([id, '{"old":true}'])
        expect((await adapter.get(id, Date.now()))?.state).toBe('running')
        expect(await adapter.complete('w1', [id])).toEqual([id])
        expect(await adapter.get(id, Date.now())).toBeUndefined()
      } finally {
        await dispose?.()
      }
    })

    it('never relays again a job whose outbox row outlived its add, once it ran and BullMQ removed it', async () => {
      const { adapter, dispose } = await subject()
      const allowDeletes = await failOutboxDeletes()
      let allowed = false
      try {
        const id = await relayOutliving(adapter)
        const claim = () =>
          adapter.claim({
            worker: 'w1',
            names: ['a'],
            limit: 1,
            nowMs: Date.now(),
            leaseMs: 30_000,
          })
        expect((await claim()).map((job) => job.id)).toEqual([id])
        // It ran; BullMQ removes a completed job, and with it the jobId its dedup relied on.
        expect(await adapter.complete('w1', [id as string])).toEqual([id])
        await allowDeletes()
        allowed = true
        await adapter.announce()
        expect(await claim()).toEqual([])
        expect(await adapter.get(id as string, Date.now())).toBeUndefined()
      } finally {
        if (!allowed) await allowDeletes()
        await dispose?.()
      }
    })

    it('forgets the marks of relayed rows that are gone, whoever failed to, and keeps those of rows still in the outbox', async () => {
      const { adapter, redis, dispose } = await subject(20)
      const allowDeletes = await failOutboxDeletes()
      let allowed = false
      try {
        const marks = `${redis.prefix}jobs:relayed`
        // What settles that failed (Redis gone a moment after the rows' delete) leave: marks of
        // rows gone, more than a page of them.
        await redis.client.sadd(
          marks,
          ...Array.from({ length: 2_500 }, (_, n) => `j${9_000_000 + n}.AAAAAAAAAAAA`),
        )
        // A row that outlives its add keeps its mark.
        const id = await relayOutliving(adapter)
        const stop = await adapter.subscribe()
        try {
          await vi.waitFor(async () => expect(await redis.client.scard(marks)).toBe(1), {
            timeout: 20_000,
            interval: 50,
          })
          expect(await redis.client.smembers(marks)).toEqual([id])
          await allowDeletes()
          allowed = true
          await vi.waitFor(async () => expect(await redis.client.scard(marks)).toBe(0), {
            timeout: 20_000,
            interval: 50,
          })
        } finally {
          await stop()
        }
        // Relayed once: one job waiting in BullMQ, none in the outbox.
        expect(await adapter.counts(Date.now())).toEqual([
          { name: 'a', state: 'pending', count: 1 },
        ])
      } finally {
        if (!allowed) await allowDeletes()
        await dispose?.()
      }
    }, 60_000)

    /** Two jobs of `a`, dead in BullMQ; their ids. */
    async function twoDead(adapter: BullmqQueue): Promise<string[]> {
      const now = Date.now()
      const ids = await adapter.enqueue(
        [1, 2].map((n) => ({
          name: 'a',
          payload: `{"n":${n}}`,
          runAtMs: now,
          createdAtMs: now,
          maxAttempts: 1,
          key: undefined,
        })),
      )
      await adapter.announce()
      const claimed = await adapter.claim({
        worker: 'w1',
        names: ['a'],
        limit: 2,
        nowMs: Date.now(),
        leaseMs: 30_000,
      })
      for (const job of claimed) {
        const error = { attempt: 1, at: new Date().toISOString(), name: 'Error', message: 'x' }
        expect(await adapter.fail('w1', job.id, error, { dead: true }, Date.now())).toBe(true)
      }
      return ids as string[]
    }

    /** Watches the client: the largest reply (in elements) and the most commands in flight. */
    function watch(redis: AppRedis): { largestReply: number; mostInFlight: number } {
      const seen = { largestReply: 0, mostInFlight: 0 }
      let inFlight = 0
      const size = (reply: unknown): number =>
        Array.isArray(reply) ? reply.reduce((sum: number, item) => sum + size(item), 0) : 1
      const client = redis.client
      const send = client.sendCommand.bind(client)
      client.sendCommand = (command, stream) => {
        inFlight += 1
        seen.mostInFlight = Math.max(seen.mostInFlight, inFlight)
        command.promise.then(
          (reply) => {
            inFlight -= 1
            seen.largestReply = Math.max(seen.largestReply, size(reply))
          },
          () => {
            inFlight -= 1
          },
        )
        return send(command, stream)
      }
      return seen
    }

    it('retries and purges the dead a page at a time, however many there are', async () => {
      const { adapter, redis, dispose } = await subject()
      try {
        const ids = await twoDead(adapter)
        // Many more dead than a page: ids in the failed set whose jobs are gone cost nothing else.
        const failed = `${redis.prefix}jobs:a:failed`
        const many = 5_000
        const members = Array.from({ length: many }, (_, n) => [n, `gone${n}`]).flat()
        await redis.client.zadd(failed, ...members)
        const seen = watch(redis)
        expect(await adapter.retry('all')).toBe(2)
        expect(seen.largestReply).toBeLessThan(many)
        for (const id of ids)
          expect((await adapter.get(id as string, Date.now()))?.state).toBe('pending')
        await redis.client.zadd(failed, ...members)
        seen.largestReply = 0
        expect(await adapter.purge(['dead'], Date.now())).toBeGreaterThanOrEqual(many)
        expect(seen.largestReply).toBeLessThan(many)
        expect(await redis.client.zcard(failed)).toBe(0)
      } finally {
        await dispose?.()
      }
    })

    it('retries a list of ids of any length a chunk at a time', async () => {
      const { adapter, redis, dispose } = await subject()
      try {
        const ids = await twoDead(adapter)
        // Ids of the engine's form that name no job, then ids of no form of ours, then the dead.
        const unknown = Array.from({ length: 40_000 }, (_, n) => `j${10_000_000 + n}`)
        const foreign = Array.from({ length: 10_000 }, (_, n) => `x${n}`)
        const seen = watch(redis)
        expect(await adapter.retry([...unknown, ...foreign, ...ids])).toBe(2)
        // A chunk of lookups, beside the odd command of the relay's sweep; all 40,000 without chunks.
        expect(seen.mostInFlight).toBeLessThan(2_000)
        for (const id of ids) expect((await adapter.get(id, Date.now()))?.state).toBe('pending')
      } finally {
        await dispose?.()
      }
    }, 60_000)
  })
}
