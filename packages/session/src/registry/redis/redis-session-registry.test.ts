import { createApp } from '@mortar/core'
import { deleteRedisKeys, privateRedisPrefix } from '@mortar/core/testing'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { makeSessionRecord, sessionRegistryConformance } from '../../testing/index.js'
import { SESSION_REGISTRY } from '../session-registry.js'
import { RedisSessionRegistry, redisSessionRegistry } from './redis-session-registry.js'

const url = process.env.MORTAR_TEST_REDIS_URL
const skip = url ? undefined : 'MORTAR_TEST_REDIS_URL is unset'

sessionRegistryConformance(
  vitest,
  'Redis',
  () => {
    const client = new Redis(url as string)
    const prefix = privateRedisPrefix()
    return {
      registry: new RedisSessionRegistry({ client, prefix }),
      async dispose() {
        await deleteRedisKeys(url as string, prefix)
        await client.quit()
      },
    }
  },
  { skip },
)

// Skipped only when MORTAR_TEST_REDIS_URL is unset (a notice names it); .ci/run sets it, so CI runs it.
describe.skipIf(skip !== undefined)('RedisSessionRegistry', () => {
  let client: Redis
  const prefix = privateRedisPrefix()

  beforeAll(() => {
    client = new Redis(url as string)
  })

  afterAll(async () => {
    await deleteRedisKeys(url as string, prefix)
    await client.quit()
  })

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
    expect(() => new RedisSessionRegistry({ client, prefix, ttlSeconds: 0 })).toThrow(RangeError)
  })
})

// Skipped only when MORTAR_TEST_REDIS_URL is unset (a notice names it); .ci/run sets it, so CI runs it.
describe.skipIf(skip !== undefined)('redisSessionRegistry', () => {
  it('connects from a URL on start, binds SESSION_REGISTRY and quits on stop', async () => {
    const prefix = privateRedisPrefix()
    const app = createApp({ modules: [redisSessionRegistry({ url: url as string, prefix })] })
    await app.start()
    const record = makeSessionRecord()
    await app.resolve(SESSION_REGISTRY).create(record)
    expect(await app.resolve(SESSION_REGISTRY).find(record.id)).toEqual(record)
    await app.stop()
    const client = new Redis(url as string)
    expect(await deleteRedisKeys(url as string, prefix)).toBe(2)
    await client.quit()
  })

  it('gives each app its own connection, so stopping one app leaves the other working', async () => {
    const prefix = privateRedisPrefix()
    const module = redisSessionRegistry({ url: url as string, prefix })
    const first = createApp({ modules: [module] })
    const second = createApp({ modules: [module] })
    await first.start()
    await second.start()
    await first.stop()
    const record = makeSessionRecord()
    await second.resolve(SESSION_REGISTRY).create(record)
    expect(await second.resolve(SESSION_REGISTRY).find(record.id)).toEqual(record)
    await second.stop()
    const client = new Redis(url as string)
    await deleteRedisKeys(url as string, prefix)
    await client.quit()
  })

  it('uses a client it is given, and leaves it open on stop', async () => {
    const client = new Redis(url as string)
    const prefix = privateRedisPrefix()
    const app = createApp({ modules: [redisSessionRegistry({ client, prefix })] })
    await app.start()
    await app.resolve(SESSION_REGISTRY).create(makeSessionRecord())
    await app.stop()
    expect(await client.ping()).toBe('PONG')
    await deleteRedisKeys(url as string, prefix)
    await client.quit()
  })

  it('fails start-up with E_SESSION_REGISTRY_UNAVAILABLE when Redis cannot be reached, hiding the password', async () => {
    const app = createApp({
      modules: [redisSessionRegistry({ url: 'redis://:hunter2@127.0.0.1:1' })],
    })
    const failure = await app.start().then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toContain('hunter2')
    expect(String((failure as Error).message)).not.toContain('hunter2')
    expect(findCode(failure)).toBe('E_SESSION_REGISTRY_UNAVAILABLE')
    await app.stop()
  })
})

function findCode(error: unknown): string | undefined {
  for (let current = error; current !== undefined && current !== null; ) {
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('E_SESSION')) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}
