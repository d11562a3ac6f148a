import { type App, createApp, DATABASE, JOBS, resolveDatabase, transaction } from '@mortar/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import {
  createTestApp,
  type EngineApp,
  startEngineApp,
  type TestEngine,
  testEngines,
} from '@mortar/core/testing'
import { makeSessionRecord, sessionRegistryConformance } from '../../testing/index.js'
import { SESSION_REGISTRY } from '../session-registry.js'
import { databaseSessionRegistry, KyselySessionRegistry } from './kysely-session-registry.js'

function startApp(engine: TestEngine): Promise<EngineApp<App>> {
  return startEngineApp(engine, (url) =>
    createApp({ database: url, modules: [databaseSessionRegistry()] }),
  )
}

for (const engine of testEngines()) {
  sessionRegistryConformance(
    vitest,
    `Kysely on ${engine.title}`,
    async () => {
      const { app, dispose } = await startApp(engine)
      return { registry: app.resolve(SESSION_REGISTRY), dispose }
    },
    { skip: engine.skip },
  )

  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(`KyselySessionRegistry on ${engine.title}`, () => {
    let started: EngineApp<App> | undefined
    let app: App

    beforeAll(async () => {
      started = await startApp(engine)
      app = started.app
    })

    afterAll(() => started?.dispose())

    it('pruneIdle deletes the sessions not seen since the given time', async () => {
      const registry = new KyselySessionRegistry({ db: resolveDatabase(app) })
      const idle = makeSessionRecord({ lastSeenAt: new Date(1_000_000) })
      const active = makeSessionRecord({ lastSeenAt: new Date(3_000_000) })
      await registry.create(idle)
      await registry.create(active)
      expect(await registry.pruneIdle(new Date(2_000_000))).toBe(1)
      expect(await registry.find(idle.id)).toBeUndefined()
      expect(await registry.find(active.id)).toEqual(active)
    })

    it('runs a write again when the server made it a deadlock victim, outside a transaction only', async () => {
      // The server's answer to a revokeAll racing a revoke (the two lock the user index and the
      // row in opposite orders), given to the next DELETE: a race alone hits it only sometimes.
      let deadlocks = 0
      const database = app.resolve(DATABASE)
      database.addPlugin({
        transformQuery({ node }) {
          if (deadlocks > 0 && node.kind === 'DeleteQueryNode') {
            deadlocks -= 1
            throw Object.assign(new Error('Deadlock found when trying to get lock'), {
              errno: 1213,
              code: engine.engine === 'postgres' ? '40P01' : 'ER_LOCK_DEADLOCK',
            })
          }
          return node
        },
        async transformResult({ result }) {
          return result
        },
      })
      const registry = new KyselySessionRegistry({ db: resolveDatabase(app) })
      const first = makeSessionRecord()
      await registry.create(first)
      deadlocks = 1
      expect(await registry.revoke(first)).toBe(true)
      expect(await registry.find(first.id)).toBeUndefined()

      // Inside the caller's transaction the server rolled all of it back: theirs to handle.
      const second = makeSessionRecord()
      await registry.create(second)
      deadlocks = 1
      await expect(transaction(() => registry.revoke(second), { database })).rejects.toMatchObject({
        errno: 1213,
      })
      expect(await registry.find(second.id)).toEqual(second)
      deadlocks = 0
    })

    it('prunes sessions idle past pruneIdleAfter on its hourly schedule', async () => {
      const { app: scheduled, dispose } = await startEngineApp(engine, (url) =>
        createTestApp({
          database: url,
          modules: [databaseSessionRegistry({ pruneIdleAfter: 3_600 })],
          jobs: { workers: false },
        }),
      )
      try {
        const now = scheduled.clock.nowMs()
        const registry = scheduled.resolve(SESSION_REGISTRY)
        const idle = makeSessionRecord({ lastSeenAt: new Date(now - 2 * 3_600_000) })
        const recent = makeSessionRecord({ lastSeenAt: new Date(now + 60_000) })
        await registry.create(idle)
        await registry.create(recent)
        scheduled.clock.advance(3_600_000)
        await scheduled.resolve(JOBS).drain()
        expect(await registry.find(idle.id)).toBeUndefined()
        expect(await registry.find(recent.id)).toEqual(recent)
      } finally {
        await dispose()
      }
    })

    it('migrates down by dropping its table', async () => {
      const report = await app.migrate({ direction: 'down' })
      expect(report.ran).toEqual(['session-registry/0001_create_mortar_session'])
      await expect(app.resolve(SESSION_REGISTRY).find('x')).rejects.toThrow()
      await app.migrate()
    })
  })
}
