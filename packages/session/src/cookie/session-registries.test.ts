import { randomBytes } from 'node:crypto'
import type { Module } from '@mortar/core'
import {
  createTestApp,
  deleteRedisKeys,
  privateRedisPrefix,
  startEngineApp,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { SessionTooLargeError } from '../errors.js'
import { databaseSessionRegistry } from '../registry/kysely/kysely-session-registry.js'
import { MemorySessionRegistry } from '../registry/memory/memory-session-registry.js'
import { redisSessionRegistry } from '../registry/redis/redis-session-registry.js'
import { SESSION_REGISTRY } from '../registry/session-registry.js'
import { FakeBrowser } from './fake-browser.js'
import { session } from './session.js'
import { CLOCK_SKEW_TOLERANCE_MS } from './session-codec.js'
import { sessionModule } from './session-module.js'

// The session's own lifetime and sign-in rules, on every registry a session can be recorded in:
// the registry only says whether a session was revoked, so none of them may change these.

const KEY = 'registries-0123456789abcdef0123456789'
const TTL = 3600
const ABSOLUTE_TTL = 2 * 3600
const schema = z.object({ note: z.string().optional(), cart: z.array(z.string()).default([]) })
type Data = z.output<typeof schema>
const current = () => session() as unknown as ReturnType<typeof session> & { data: Data }

interface Setup {
  readonly title: string
  readonly skip?: string | undefined
  start(): Promise<{ readonly app: TestApp; dispose(): Promise<void> }>
}

const sessions = (registry: 'database' | 'redis' | MemorySessionRegistry): Module =>
  sessionModule({
    cookieName: 'test.session',
    password: KEY,
    schema,
    registry,
    ttl: TTL,
    absoluteTtl: ABSOLUTE_TTL,
    rolling: 60,
  })

const redisUrl = process.env.MORTAR_TEST_REDIS_URL
const setups: Setup[] = [
  {
    title: 'the memory registry',
    async start() {
      // Given as an instance, and bound too so the tests read it as they read the others.
      const memory = new MemorySessionRegistry()
      const app = createTestApp({
        modules: [sessions(memory)],
        overrides: (binder) => binder.bind(SESSION_REGISTRY, { useValue: memory }),
      })
      await app.start()
      return { app, dispose: () => app.stop() }
    },
  },
  ...testEngines().map(
    (engine): Setup => ({
      title: `the database registry on ${engine.title}`,
      skip: engine.skip,
      start: () =>
        startEngineApp(engine, (url) =>
          createTestApp({
            database: url,
            modules: [databaseSessionRegistry(), sessions('database')],
          }),
        ),
    }),
  ),
  {
    title: 'the Redis registry',
    skip: redisUrl ? undefined : 'MORTAR_TEST_REDIS_URL is unset',
    async start() {
      const prefix = privateRedisPrefix()
      const app = createTestApp({
        redis: { url: redisUrl as string, prefix },
        modules: [redisSessionRegistry(), sessions('redis')],
      })
      await app.start()
      return {
        app,
        async dispose() {
          await app.stop()
          await deleteRedisKeys(redisUrl as string, prefix)
        },
      }
    },
  },
]

const newUser = () => `user-${randomBytes(6).toString('hex')}`

for (const setup of setups) {
  // Skipped only when the engine's MORTAR_TEST_* variable is unset; .ci/run sets them all.
  describe.skipIf(setup.skip !== undefined)(`sessions on ${setup.title}`, () => {
    let started: Awaited<ReturnType<Setup['start']>> | undefined
    let app: TestApp

    beforeAll(async () => {
      started = await setup.start()
      app = started.app
    })

    afterAll(() => started?.dispose())

    async function signIn(browser: FakeBrowser, userId: string): Promise<string> {
      const { body } = await browser.request({}, async () => {
        await current().login(userId)
        return current().id
      })
      return body as string
    }

    it('refuses a session idle past its ttl though the registry still holds it', async () => {
      const browser = new FakeBrowser(app)
      const id = await signIn(browser, newUser())
      app.clock.advance(TTL * 1000 - 1000)
      expect((await browser.request({}, () => current().id)).body).toBe(id)
      // Rolled just now: a full ttl from here is still within it, a second more is not.
      app.clock.advance(TTL * 1000 + 1000)
      expect((await browser.request({}, () => current().userId)).body).toBeUndefined()
      expect(await app.resolve(SESSION_REGISTRY).find(id)).toBeDefined()
    })

    it('refuses a session past its absoluteTtl however active, though the registry holds it', async () => {
      const browser = new FakeBrowser(app)
      const id = await signIn(browser, newUser())
      // Used every 50 minutes (each use rolls it): alive at 50 and 100, ended at 121.
      for (const _ of [50, 100]) {
        app.clock.advance(50 * 60_000)
        expect((await browser.request({}, () => current().id)).body).toBe(id)
      }
      app.clock.advance(21 * 60_000)
      expect((await browser.request({}, () => current().userId)).body).toBeUndefined()
      expect(await app.resolve(SESSION_REGISTRY).find(id)).toBeDefined()
    })

    it('refuses and revokes a sign-in sealed over the tolerance ahead, which stays refused once its time comes', async () => {
      // Its times were taken as now: a kept copy began again on every request, so neither ttl
      // nor absoluteTtl ever ended it, and the registry still held it.
      const browser = new FakeBrowser(app)
      const user = newUser()
      const correct = app.clock.nowMs()
      app.clock.set(correct + CLOCK_SKEW_TOLERANCE_MS + 1000) // a server whose clock runs fast
      const id = await signIn(browser, user)
      const copy = browser.cookie('test.session')
      app.clock.set(correct)
      const refused = await browser.request({}, () => current().userId)
      expect(refused.body).toBeUndefined()
      expect(refused.setCookies).toEqual([expect.stringMatching(/Max-Age=0/)])
      expect(await app.resolve(SESSION_REGISTRY).find(id)).toBeUndefined()
      app.clock.set(correct + CLOCK_SKEW_TOLERANCE_MS + 2000)
      browser.setCookie('test.session', copy)
      expect((await browser.request({}, () => current().userId)).body).toBeUndefined()
    })

    it('ends a sign-in sealed within the tolerance ahead by its own stamps, however often a copy is replayed', async () => {
      const browser = new FakeBrowser(app)
      const correct = app.clock.nowMs()
      app.clock.set(correct + CLOCK_SKEW_TOLERANCE_MS)
      const id = await signIn(browser, newUser())
      const copy = browser.cookie('test.session')
      for (const minutes of [0, 30, 60]) {
        app.clock.set(correct + minutes * 60_000)
        browser.setCookie('test.session', copy)
        expect((await browser.request({}, () => current().id)).body).toBe(id)
      }
      app.clock.set(correct + CLOCK_SKEW_TOLERANCE_MS + TTL * 1000 + 1)
      browser.setCookie('test.session', copy)
      expect((await browser.request({}, () => current().userId)).body).toBeUndefined()
    })

    it('leaves a signed-in session as it was when regenerate() or login() is refused for its data', async () => {
      // Both revoked the old id first and checked the data after: the typed error came with the
      // visitor signed out.
      const browser = new FakeBrowser(app)
      const user = newUser()
      const id = await signIn(browser, user)
      for (const write of [() => current().regenerate(), () => current().login(user)]) {
        const refused = await browser.request({}, async () => {
          current().data.note = 'x'.repeat(5000)
          await write()
        })
        expect(refused.error).toBeInstanceOf(SessionTooLargeError)
      }
      expect((await browser.request({}, () => current().id)).body).toBe(id)
      expect(await app.resolve(SESSION_REGISTRY).find(id)).toBeDefined()
    })

    it("gives another user who signs in over a session none of the previous user's data", async () => {
      const browser = new FakeBrowser(app)
      const first = newUser()
      const second = newUser()
      // Data made before signing in is kept (a cart), and so is a second sign-in's.
      await browser.request({}, async () => {
        current().data.cart = ['sku-1']
        await current().save()
      })
      await signIn(browser, first)
      await signIn(browser, first)
      expect((await browser.request({}, () => current().data.cart)).body).toEqual(['sku-1'])

      // Over a signed-in session, another user starts empty, without the first one's flash.
      await browser.request({}, async () => {
        current().data.note = 'second factor passed'
        current().flash('notice', `welcome ${first}`)
        await current().save()
      })
      const switched = await browser.request({}, async () => {
        await current().login(second)
        return { data: current().data, flash: current().consumeFlash('notice') }
      })
      expect(switched.body).toEqual({ data: { cart: [] }, flash: undefined })
      const next = await browser.request({}, () => [current().userId, current().data])
      expect(next.body).toEqual([second, { cart: [] }])
      expect(await app.resolve(SESSION_REGISTRY).list(first)).toEqual([])
    })
  })
}
