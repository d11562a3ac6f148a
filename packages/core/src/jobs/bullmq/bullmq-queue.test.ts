import { sql } from 'kysely'
import { afterAll, beforeAll } from 'vitest'
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
  queueConformance,
  testEngines,
} from '../../testing/index.js'
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

  queueConformance(
    vitest,
    `BullmqQueue on ${engine.title}`,
    async () => {
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
    },
    { skip },
  )
}
