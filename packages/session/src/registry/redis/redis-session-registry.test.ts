import { createApp } from '@mortar/core'
import {
  deleteRedisKeys,
  type PrivateRedis,
  privateRedis,
  privateRedisPrefix,
} from '@mortar/core/testing'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { makeSessionRecord, sessionRegistryConformance } from '../../testing/index.js'
import { SessionConfigError } from '../../errors.js'
import { SESSION_REGISTRY } from '../session-registry.js'
import { RedisSessionRegistry, redisSessionRegistry } from './redis-session-registry.js'

const url = process.env.MORTAR_TEST_REDIS_URL
const skip = url ? undefined : 'MORTAR_TEST_REDIS_URL is unset'

sessionRegistryConformance(
  vitest,
  'Redis',
  async () => {
    const { client, prefix, dispose } = await privateRedis(url as string)
    return { registry: new RedisSessionRegistry({ client, prefix }), dispose }
  },
  { skip },
)

// Skipped only when MORTAR_TEST_REDIS_URL is unset (a notice names it); .ci/run sets it, so CI runs it.
describe.skipIf(skip !== undefined)('RedisSessionRegistry', () => {
  let redis: PrivateRedis | undefined
  let client: Redis
  let prefix: string

  beforeAll(async () => {
    redis = await privateRedis(url as string)
    ;({ client, prefix } = redis)
  })

  afterAll(() => redis?.dispose())

  it('keeps every key under its prefix, each with a TTL', async () => {
    const registry = new RedisSessionRegistry({ client, prefix, ttlSeconds: 600 })
    const record = makeSessionRecord()
    await registry.create(record)
    const keys = await client.keys(`${prefix}*`)
    expect(keys.sort()).toEqual([
      `${prefix}session:${record.id}`,
      `${prefix}user-sessions:${record.userId}`,
    ])
    for (const key of keys) {
      const ttl = await client.pttl(key)
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(600_000)
    }
  })

  it('touch slides the TTL of the session', async () => {
    const registry = new RedisSessionRegistry({ client, prefix, ttlSeconds: 600 })
    const record = makeSessionRecord()
    await registry.create(record)
    const key = `${prefix}session:${record.id}`
    await client.pexpire(key, 1_000)
    await registry.touch(record.id, new Date(record.lastSeenAt.getTime() + 1))
    expect(await client.pttl(key)).toBeGreaterThan(1_000)
  })

  it('forgets a session whose key expired, in find and in list', async () => {
    const registry = new RedisSessionRegistry({ client, prefix })
    const record = makeSessionRecord()
    await registry.create(record)
    await client.del(`${prefix}session:${record.id}`)
    expect(await registry.find(record.id)).toBeUndefined()
    expect(await registry.list(record.userId)).toEqual([])
    expect(await client.zcard(`${prefix}user-sessions:${record.userId}`)).toBe(0)
  })

  it('refuses a TTL that is not a positive number', () => {
    expect(() => new RedisSessionRegistry({ client, prefix, ttlSeconds: 0 })).toThrow(
      SessionConfigError,
    )
  })
})

// Skipped only when MORTAR_TEST_REDIS_URL is unset (a notice names it); .ci/run sets it, so CI runs it.
describe.skipIf(skip !== undefined)('redisSessionRegistry', () => {
  it("binds SESSION_REGISTRY on the app's Redis, under the app's prefix", async () => {
    const prefix = privateRedisPrefix()
    const app = createApp({
      redis: { url: url as string, prefix },
      modules: [redisSessionRegistry({ ttlSeconds: 600 })],
    })
    await app.start()
    const record = makeSessionRecord()
    await app.resolve(SESSION_REGISTRY).create(record)
    expect(await app.resolve(SESSION_REGISTRY).find(record.id)).toEqual(record)
    await app.stop()
    expect(await deleteRedisKeys(url as string, prefix)).toBe(2)
  })

  it('gives each app its own connection, so stopping one app leaves the other working', async () => {
    const prefix = privateRedisPrefix()
    const module = redisSessionRegistry()
    const first = createApp({ redis: { url: url as string, prefix }, modules: [module] })
    const second = createApp({ redis: { url: url as string, prefix }, modules: [module] })
    await first.start()
    await second.start()
    await first.stop()
    const record = makeSessionRecord()
    await second.resolve(SESSION_REGISTRY).create(record)
    expect(await second.resolve(SESSION_REGISTRY).find(record.id)).toEqual(record)
    await second.stop()
    await deleteRedisKeys(url as string, prefix)
  })

  it('refuses to start when the app has no Redis, naming what is missing', async () => {
    const app = createApp({ modules: [redisSessionRegistry()] })
    const failure = (await app.start().catch((error: unknown) => error)) as Error
    expect(failure).toMatchObject({ code: 'E_STARTUP' })
    expect(failure.message).toContain('mortar.redis')
  })
})
