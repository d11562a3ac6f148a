import { createApp } from '@mortar/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { type PrivateRedis, privateRedis } from '@mortar/core/testing'
import { throttleStoreConformance } from '../../testing/index.js'
import { LOGIN_THROTTLE } from '../login-throttle.js'
import { loginThrottleModule } from '../login-throttle-module.js'
import { RedisThrottleStore } from './redis-throttle-store.js'

const url = process.env.MORTAR_TEST_REDIS_URL
const skip = url ? undefined : 'MORTAR_TEST_REDIS_URL is unset'

throttleStoreConformance(
  vitest,
  'Redis',
  async () => {
    const { client, prefix, dispose } = await privateRedis(url as string)
    return { store: new RedisThrottleStore({ client, prefix }), dispose }
  },
  { skip },
)

// Skipped only when MORTAR_TEST_REDIS_URL is unset (a notice names it); .ci/run sets it, so CI runs it.
describe.skipIf(skip !== undefined)('RedisThrottleStore', () => {
  let redis: PrivateRedis | undefined
  let client: Redis
  let prefix: string

  beforeAll(async () => {
    redis = await privateRedis(url as string)
    ;({ client, prefix } = redis)
  })

  afterAll(() => redis?.dispose())

  it('keeps every key under its prefix, with a TTL that covers the window, then the lockout', async () => {
    const store = new RedisThrottleStore({ client, prefix })
    const rule = {
      limit: 1,
      windowMs: 30_000,
      lockoutMs: 60_000,
      maxLockoutMs: 60_000,
      forgetMs: 30_000,
    }
    await store.reserve('k1', rule, 0)
    expect(await client.keys(`${prefix}*`)).toEqual([`${prefix}login-throttle:k1`])
    const windowTtl = await client.pttl(`${prefix}login-throttle:k1`)
    expect(windowTtl).toBeGreaterThan(0)
    expect(windowTtl).toBeLessThanOrEqual(30_000)
    expect(await store.reserve('k1', rule, 0)).toMatchObject({ allowed: false, lockedNow: true })
    const lockTtl = await client.pttl(`${prefix}login-throttle:k1`)
    expect(lockTtl).toBeGreaterThan(60_000)
    expect(lockTtl).toBeLessThanOrEqual(90_000)
  })

  it("uses the app's Redis and prefix through the module", async () => {
    const modulePrefix = `${prefix}module:`
    const app = createApp({
      redis: { url: url as string, prefix: modulePrefix },
      modules: [loginThrottleModule({ store: 'redis', account: { maxFailures: 2 } })],
    })
    await app.start()
    const throttle = app.resolve(LOGIN_THROTTLE)
    const attempt = { account: 'grace@example.com' }
    const wrong = async () => undefined
    await throttle.attempt(attempt, wrong)
    await throttle.attempt(attempt, wrong)
    await expect(throttle.attempt(attempt, wrong)).rejects.toMatchObject({ status: 429 })
    expect(await client.keys(`${modulePrefix}*`)).not.toHaveLength(0)
    await app.stop()
  })

  it("refuses to start with store 'redis' when the app has no Redis", async () => {
    const app = createApp({ modules: [loginThrottleModule({ store: 'redis' })] })
    const error = (await app.start().catch((caught: unknown) => caught)) as Error
    expect(error).toMatchObject({ code: 'E_STARTUP' })
    expect(error.message).toContain('mortar.redis')
  })

  it('fails start-up with a 503 error naming the host, not the password, when Redis is down', async () => {
    const app = createApp({
      redis: 'redis://:hunter2@127.0.0.1:1',
      modules: [loginThrottleModule({ store: 'redis' })],
    })
    const error = (await app.start().catch((caught: unknown) => caught)) as Error
    expect(error).toMatchObject({ code: 'E_REDIS_UNREACHABLE', status: 503 })
    expect(error.message).toContain('redis://:***@127.0.0.1:1')
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('hunter2')
    await app.stop().catch(() => {})
  })
})
