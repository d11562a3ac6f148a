import { createApp } from '@mortar/core'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { deleteRedisKeys, privateRedisPrefix } from '@mortar/core/testing'
import { throttleStoreConformance } from '../../testing/index.js'
import { LOGIN_THROTTLE } from '../login-throttle.js'
import { loginThrottleModule } from '../login-throttle-module.js'
import { RedisThrottleStore } from './redis-throttle-store.js'

const url = process.env.MORTAR_TEST_REDIS_URL
const skip = url ? undefined : 'MORTAR_TEST_REDIS_URL is unset'

throttleStoreConformance(
  vitest,
  'Redis',
  () => {
    const client = new Redis(url as string)
    const prefix = privateRedisPrefix()
    return {
      store: new RedisThrottleStore({ client, prefix }),
      async dispose() {
        await deleteRedisKeys(url as string, prefix)
        await client.quit()
      },
    }
  },
  { skip },
)

// Skipped only when MORTAR_TEST_REDIS_URL is unset (a notice names it); .ci/run sets it, so CI runs it.
describe.skipIf(skip !== undefined)('RedisThrottleStore', () => {
  let client: Redis
  const prefix = privateRedisPrefix()

  beforeAll(() => {
    client = new Redis(url as string)
  })

  afterAll(async () => {
    await deleteRedisKeys(url as string, prefix)
    await client.quit()
  })

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

  it('connects by URL through the module, throttles, and quits on stop', async () => {
    const modulePrefix = `${prefix}module:`
    const app = createApp({
      modules: [
        loginThrottleModule({
          store: { redis: { url: url as string, prefix: modulePrefix } },
          account: { maxFailures: 2 },
        }),
      ],
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

  it('fails start-up with a 503 error naming the host, not the password, when Redis is down', async () => {
    const app = createApp({
      modules: [loginThrottleModule({ store: { redis: { url: 'redis://:hunter2@127.0.0.1:1' } } })],
    })
    const error = (await app.start().catch((caught: unknown) => caught)) as Error
    expect(error.cause).toMatchObject({ code: 'E_LOGIN_THROTTLE_UNAVAILABLE', status: 503 })
    expect((error.cause as Error).message).toContain('redis://:***@127.0.0.1:1')
    expect(`${error.message} ${(error.cause as Error).message}`).not.toContain('hunter2')
    await app.stop().catch(() => {})
  })
})
