import { type App, createApp, JOBS, resolveDatabase } from '@mortar/core'
import { createTestApp, privateDatabaseUrl, testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { throttleStoreConformance } from '../../testing/index.js'
import { LOGIN_THROTTLE } from '../login-throttle.js'
import { loginThrottleModule } from '../login-throttle-module.js'
import { KyselyThrottleStore } from './kysely-throttle-store.js'

async function startApp(url: string): Promise<App> {
  const app = createApp({ database: url, modules: [loginThrottleModule({ store: 'database' })] })
  await app.migrate()
  await app.start()
  return app
}

for (const engine of testEngines()) {
  throttleStoreConformance(
    vitest,
    `Kysely on ${engine.title}`,
    async () => {
      const database = await privateDatabaseUrl(engine)
      const app = await startApp(database.url)
      return {
        store: new KyselyThrottleStore({ db: resolveDatabase(app) }),
        async dispose() {
          await app.stop()
          await database.drop()
        },
      }
    },
    { skip: engine.skip },
  )

  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`KyselyThrottleStore on ${engine.title}`, () => {
    let app: App
    let drop: () => Promise<void>

    beforeAll(async () => {
      const database = await privateDatabaseUrl(engine)
      drop = database.drop
      app = await startApp(database.url)
    })

    afterAll(async () => {
      await app?.stop()
      await drop?.()
    })

    it('locks an account through the module after five failures, counted in the table', async () => {
      const throttle = app.resolve(LOGIN_THROTTLE)
      const attempt = { account: `ada-${engine.engine}@example.com`, ip: '198.51.100.4' }
      for (let i = 0; i < 4; i++) await throttle.recordFailure(attempt)
      await throttle.check(attempt)
      expect(await throttle.recordFailure(attempt)).toMatchObject({ locked: true })
      await expect(throttle.check(attempt)).rejects.toMatchObject({ code: 'E_LOGIN_THROTTLED' })
      const db = resolveDatabase<{ mortar_login_throttle: { key: string } }>(app)
      const keys = await db.selectFrom('mortar_login_throttle').select('key').execute()
      // Digests only: the table never holds the account or the address.
      expect(keys.some(({ key }) => key.includes('ada') || key.includes('198.51'))).toBe(false)
      expect(keys.some(({ key }) => key.startsWith('l:'))).toBe(true)
    })

    it('prunes expired rows', async () => {
      const store = new KyselyThrottleStore({ db: resolveDatabase(app) })
      await store.increment('c:old', { nowMs: 1_000, ttlMs: 1_000 })
      await store.setLock('l:old', { untilMs: 1_500, lockouts: 1 }, { nowMs: 1_000, ttlMs: 1_000 })
      await store.increment('c:new', { nowMs: 1_000, ttlMs: 60_000 })
      expect(await store.pruneExpired(10_000)).toBe(2)
      expect(await store.counts(['c:old', 'c:new'])).toEqual([0, 1])
    })

    it('migrates down by dropping its table', async () => {
      const report = await app.migrate({ direction: 'down' })
      expect(report.ran).toEqual(['login-throttle/0001_create_mortar_login_throttle'])
      // Queried, not introspected: PostgreSQL's introspection lists other runs' schemas too.
      const db = resolveDatabase<{ mortar_login_throttle: { key: string } }>(app)
      await expect(db.selectFrom('mortar_login_throttle').select('key').execute()).rejects.toThrow()
      await app.migrate()
    })

    it('deletes expired rows on its hourly schedule', async () => {
      const target = await privateDatabaseUrl(engine)
      const scheduled = createTestApp({
        database: target.url,
        modules: [loginThrottleModule({ store: 'database' })],
        jobs: { workers: false },
      })
      try {
        await scheduled.migrate()
        await scheduled.start()
        const store = new KyselyThrottleStore({ db: resolveDatabase(scheduled) })
        const nowMs = scheduled.clock.nowMs()
        await store.increment('expires-soon', { nowMs, ttlMs: 60_000 })
        await store.increment('lasts-a-day', { nowMs, ttlMs: 86_400_000 })
        scheduled.clock.advance(3_600_000)
        await scheduled.resolve(JOBS).drain()
        expect(await store.counts(['expires-soon', 'lasts-a-day'])).toEqual([0, 1])
      } finally {
        await scheduled.stop()
        await target.drop()
      }
    })
  })
}
