import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { createLogger } from '../../logger/create-logger.js'
import { Database } from '../../persistence/database/index.js'
import { ModuleMigrator } from '../../persistence/migrations/index.js'
import { AppRedis } from '../../redis/app-redis.js'
import {
  deleteRedisKeys,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  privateRedisPrefix,
  type QueueSubject,
  queueConformance,
  testEngines,
} from '../../testing/index.js'
import { SqlQueue } from '../sql/sql-queue.js'
import { sqlQueueMigrations } from '../sql/sql-queue-migrations.js'
import { BullmqQueue } from './bullmq-queue.js'

const redisUrl = process.env.MORTAR_TEST_REDIS_URL
const logger = createLogger({ level: 'silent' })

for (const engine of testEngines()) {
  const skip = engine.skip ?? (redisUrl ? undefined : 'MORTAR_TEST_REDIS_URL is unset')
  let target: PrivateDatabaseUrl | undefined
  let database: Database | undefined

  beforeAll(async () => {
    if (skip) return
    target = await privateDatabaseUrl(engine)
    database = new Database({ url: target.url, pool: 12 })
    await database.connect()
    await new ModuleMigrator({
      db: database.root,
      sources: [{ module: 'mortar.jobs', migrations: sqlQueueMigrations }],
    }).up()
  })

  afterAll(async () => {
    await database?.destroy()
    await target?.drop()
  })

  async function subject(): Promise<QueueSubject & { adapter: BullmqQueue }> {
    const db = database as Database
    // A fresh queue per case in the one private database: empty the outbox first.
    await sql`delete from mortar_job`.execute(db.root)
    const prefix = privateRedisPrefix()
    const redis = new AppRedis({ url: redisUrl as string, prefix }, logger)
    await redis.connect()
    const adapter = new BullmqQueue({ database: db, redis, logger })
    return {
      adapter,
      transaction: (fn) => db.transaction(fn),
      // BullMQ stamps jobs and expires locks in Redis, on its own clock; a lease is at least
      // a second there (the engine's shortest lock).
      realTime: { leaseMs: 1_000 },
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
    const db = (database as Database).root
    if (engine.engine === 'postgres') await sql`truncate mortar_job restart identity`.execute(db)
    else if (engine.engine === 'mysql') await sql`truncate table mortar_job`.execute(db)
    else {
      await sql`delete from mortar_job`.execute(db)
      await sql`delete from sqlite_sequence where name = 'mortar_job'`.execute(db)
    }
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
            leaseUntilMs: Date.now() + 30_000,
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
          leaseUntilMs: Date.now() + 30_000,
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
        const [row] = await new SqlQueue({ database: database as Database }).enqueue([
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
          leaseUntilMs: Date.now() + 30_000,
        })
        expect([claimed?.id, claimed?.payload]).toEqual([id, '{"old":true}'])
        expect((await adapter.get(id, Date.now()))?.state).toBe('running')
        expect(await adapter.complete('w1', [id])).toEqual([id])
        expect(await adapter.get(id, Date.now())).toBeUndefined()
      } finally {
        await dispose?.()
      }
    })
  })
}
