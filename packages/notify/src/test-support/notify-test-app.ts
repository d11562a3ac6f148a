// Test helpers of this package's own tests (never imported by the package itself).
import { createLogger } from '@mortar/core'
import {
  createTestApp,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  type TestEngine,
} from '@mortar/core/testing'
import { afterAll, beforeAll } from 'vitest'
import { notifyModule } from '../module/notify-module.js'
import type { NotifyModuleOptions } from '../module/notify-options.js'

/** An app of the notify module alone (on in-memory SQLite unless given a database): no workers, no logs. */
export function notifyTestApp(options: NotifyModuleOptions, database = 'sqlite::memory:'): TestApp {
  return createTestApp({
    database,
    logger: createLogger({ level: 'silent' }),
    jobs: { workers: false },
    modules: [notifyModule(options)],
  })
}

/** {@link notifyTestApp} on `database`, migrated and started, its clock at 2026-06-01T10:00:00Z. */
export async function startedNotifyTestApp(
  options: NotifyModuleOptions,
  database: string,
): Promise<TestApp> {
  const app = notifyTestApp(options, database)
  await app.migrate()
  app.clock.set('2026-06-01T10:00:00Z')
  await app.start()
  return app
}

/**
 * In a describe block on `engine`: {@link startedNotifyTestApp} on a private database of it,
 * stopped and dropped after the block. Returns the app (once the block's tests run).
 */
export function notifyAppOn(engine: TestEngine, options: NotifyModuleOptions): () => TestApp {
  let database: PrivateDatabaseUrl | undefined
  let app: TestApp | undefined
  beforeAll(async () => {
    database = await privateDatabaseUrl(engine)
    app = await startedNotifyTestApp(options, database.url)
  })
  afterAll(async () => {
    await app?.stop()
    await database?.drop()
  })
  return () => {
    if (app === undefined) throw new Error('The notify test app has not started.')
    return app
  }
}
