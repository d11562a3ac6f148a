import { type App, createApp, JOBS, resolveDatabase } from '@mortar/core'
import {
  createTestApp,
  type EngineApp,
  startEngineApp,
  type TestEngine,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { throttleStoreConformance } from '../../testing/index.js'
import { LOGIN_THROTTLE } from '../login-throttle.js'
import { loginThrottleModule } from '../login-throttle-module.js'
import type { ThrottleRule } from '../throttle-store.js'
import { KyselyThrottleStore } from './kysely-throttle-store.js'

const rule: ThrottleRule = {
  limit: 5,
  windowMs: 1_000,
  lockoutMs: 1_000,
  maxLockoutMs: 1_000,
  forgetMs: 0,
}

function startApp(engine: TestEngine): Promise<EngineApp<App>> {
  return startEngineApp(engine, (url) =>
    createApp({ database: url, modules: [loginThrottleModule({ store: 'database' })] }),
  )
}

for (const engine of testEngines()) {
  throttleStoreConformance(
    vitest,
    `Kysely on ${engine.title}`,
    async () => {
      const { app, dispose } = await startApp(engine)
      return { store: new KyselyThrottleStore({ db: resolveDatabase(app) }), dispose }
    },
    { skip: engine.skip },
  )

  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`KyselyThrottleStore on ${engine.title}`, () => {
    let started: EngineApp<App> | undefined
    let app: App

    beforeAll(async () => {
      started = await startApp(engine)
      app = started.app
    })

    afterAll(() => started?.dispose())

    it('locks an account through the module after five failures, keyed by digests in the table', async () => {
      const throttle = app.resolve(LOGIN_THROTTLE)
      const attempt = { account: `ada-${engine.engine}@example.com`, ip: '198.51.100.4' }
      const wrong = async () => undefined
      for (let i = 0; i < 5; i++) expect(await throttle.attempt(attempt, wrong)).toBeUndefined()
      await expect(throttle.attempt(attempt, async () => ({ id: 'ada' }))).rejects.toMatchObject({
        code: 'E_LOGIN_THROTTLED',
      })
      const db = resolveDatabase<{ mortar_login_throttle: { key: string; lockouts: number } }>(app)
      const rows = await db
        .selectFrom('mortar_login_throttle')
        .select(['key', 'lockouts'])
        .execute()
      // Digests only: the table never holds the account or the address.
      expect(rows.some(({ key }) => key.includes('ada') || key.includes('198.51'))).toBe(false)
      expect(rows.map((row) => Number(row.lockouts)).sort()).toEqual([0, 1])
    })

    it('prunes expired rows', async () => {
      const store = new KyselyThrottleStore({ db: resolveDatabase(app) })
      await store.reserve('old', rule, 1_000)
      await store.reserve('new', { ...rule, windowMs: 60_000 }, 1_000)
      expect(await store.pruneExpired(10_000)).toBe(1)
      const db = resolveDatabase<{ mortar_login_throttle: { key: string } }>(app)
      const keys = await db
        .selectFrom('mortar_login_throttle')
        .select('key')
        .where('key', 'in', ['old', 'new'])
        .execute()
      expect(keys).toEqual([{ key: 'new' }])
    })

    it('migrates down to the first table, then by dropping it', async () => {
      const db = resolveDatabase<{
        mortar_login_throttle: { key: string; window_ends_ms: number }
      }>(app)
      expect((await app.migrate({ direction: 'down' })).ran).toEqual([
        'login-throttle/0002_one_row_per_key',
      ])
      await expect(db.selectFrom('mortar_login_throttle').select('key').execute()).resolves.toEqual(
        [],
      )
      await expect(
        db.selectFrom('mortar_login_throttle').select('window_ends_ms').execute(),
      ).rejects.toThrow()
      expect((await app.migrate({ direction: 'down' })).ran).toEqual([
        'login-throttle/0001_create_mortar_login_throttle',
      ])
      // Queried, not introspected: PostgreSQL's introspection lists other runs' schemas too.
      await expect(db.selectFrom('mortar_login_throttle').select('key').execute()).rejects.toThrow()
      await app.migrate()
    })

    it('deletes expired rows on its hourly schedule', async () => {
      const { app: scheduled, dispose } = await startEngineApp(engine, (url) =>
        createTestApp({
          database: url,
          modules: [loginThrottleModule({ store: 'database' })],
          jobs: { workers: false },
        }),
      )
      try {
        const store = new KyselyThrottleStore({ db: resolveDatabase(scheduled) })
        const nowMs = scheduled.clock.nowMs()
        await store.reserve('expires-soon', { ...rule, windowMs: 60_000 }, nowMs)
        await store.reserve('lasts-a-day', { ...rule, windowMs: 86_400_000 }, nowMs)
        scheduled.clock.advance(3_600_000)
        await scheduled.resolve(JOBS).drain()
        const db = resolveDatabase<{ mortar_login_throttle: { key: string } }>(scheduled)
        expect(await db.selectFrom('mortar_login_throttle').select('key').execute()).toEqual([
          { key: 'lasts-a-day' },
        ])
      } finally {
        await dispose()
      }
    })
  })
}
