import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { createApp } from '../app/create-app.js'
import { defineModule } from '../app/define-module.js'
import { createLogger } from '../logger/create-logger.js'
import { deleteRedisKeys, privateRedisPrefix } from '../testing/test-databases.js'
import { AppRedis, REDIS } from './app-redis.js'
import { RedisError } from './redis-error.js'
import { parseRedisUrl } from './redis-url.js'

const url = process.env.MORTAR_TEST_REDIS_URL
const skip = url ? undefined : 'MORTAR_TEST_REDIS_URL is unset'
if (skip) console.warn(`[@mortar/core] app Redis tests skipped: ${skip}`)

function failureOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  )
}

describe('parseRedisUrl', () => {
  it('accepts redis:// and rediss:// URLs and hides the password when shown', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6379/2').display).toBe('redis://127.0.0.1:6379/2')
    expect(parseRedisUrl('rediss://:hunter2@cache.example:6380').display).toBe(
      'rediss://:***@cache.example:6380',
    )
  })

  it.each([
    'http://127.0.0.1:6379',
    'redis://',
    'redis://127.0.0.1/db1',
    'redis://127.0.0.1/0?password=hunter2',
    'not a url hunter2',
  ])('refuses %s with E_REDIS_URL, never repeating it', (bad) => {
    const error = (() => {
      try {
        parseRedisUrl(bad)
      } catch (caught) {
        return caught
      }
    })()
    expect(error).toBeInstanceOf(RedisError)
    expect((error as RedisError).code).toBe('E_REDIS_URL')
    expect((error as RedisError).message).not.toContain('hunter2')
  })

  it('refuses a prefix that could collide with or break keys', () => {
    const logger = createLogger({ level: 'silent' })
    expect(() => new AppRedis({ url: 'redis://127.0.0.1', prefix: '' }, logger)).toThrow(RedisError)
    expect(() => new AppRedis({ url: 'redis://127.0.0.1', prefix: 'a b*' }, logger)).toThrow(
      /prefix/,
    )
  })
})

describe('createApp({ redis })', () => {
  it('stops start() on a malformed setting without repeating the URL', async () => {
    const app = createApp({ modules: [], redis: 'http://:hunter2@127.0.0.1:6379' })
    const failure = await failureOf(app.start())
    expect((failure as Error).message).toContain('redis://')
    expect((failure as Error).message).not.toContain('hunter2')
  })

  it('fails start with E_REDIS_UNREACHABLE when Redis does not answer, hiding the password', async () => {
    const app = createApp({ modules: [], redis: 'redis://:hunter2@127.0.0.1:1' })
    const failure = await failureOf(app.start())
    expect(failure).toBeInstanceOf(RedisError)
    expect((failure as RedisError).code).toBe('E_REDIS_UNREACHABLE')
    expect(JSON.stringify(failure, Object.getOwnPropertyNames(failure))).not.toContain('hunter2')
    expect((failure as Error).message).toContain('***')
    await app.stop()
  })

  it('binds no REDIS without the setting', async () => {
    const needsRedis = defineModule({
      name: 'needs-redis',
      register: (binder) =>
        binder.bind(AppRedis, { inject: [REDIS], useFactory: (redis) => redis }),
    })
    const failure = await failureOf(createApp({ modules: [needsRedis] }).start())
    expect((failure as Error).message).toContain('mortar.redis')
  })

  // Skipped only when MORTAR_TEST_REDIS_URL is unset (a notice names it); .ci/run sets it.
  it.skipIf(skip !== undefined)(
    'connects on start, shares one client and prefix, closes every connection on stop',
    async () => {
      const prefix = privateRedisPrefix()
      const app = createApp({ modules: [], redis: { url: url as string, prefix } })
      await app.start()
      const redis = app.resolve(REDIS)
      expect(redis.prefix).toBe(prefix)
      await redis.client.set(`${prefix}k`, 'v')
      const extra = await redis.open({ maxRetriesPerRequest: null })
      expect(await extra.get(`${prefix}k`)).toBe('v')
      const shared = redis.client
      await app.stop()
      expect(shared.status).toBe('end')
      expect(extra.status).toBe('end')
      expect(() => redis.client).toThrow(RedisError)
      const check = new Redis(url as string)
      expect(await deleteRedisKeys(url as string, prefix)).toBe(1)
      await check.quit()
    },
  )

  it.skipIf(skip !== undefined)(
    'opens nothing once closed, not even a connection that was connecting while close() ran',
    async () => {
      const app = createApp({
        modules: [],
        redis: { url: url as string, prefix: privateRedisPrefix() },
      })
      await app.start()
      const redis = app.resolve(REDIS)
      // A worker's connection asked for as the app stops: left open, nothing would ever close it.
      const opening = redis.open({ maxRetriesPerRequest: null })
      await app.stop()
      await expect(opening).rejects.toMatchObject({ code: 'E_REDIS_UNREACHABLE' })
      await expect(redis.open()).rejects.toMatchObject({ code: 'E_REDIS_UNREACHABLE' })
    },
  )
})
