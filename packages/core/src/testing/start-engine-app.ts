import type { App } from '../app/app.js'
import { privateDatabaseUrl, type TestEngine } from './test-databases.js'

/** An app started by {@link startEngineApp}, and how to take it down. */
export interface EngineApp<A> {
  readonly app: A
  /** Stops the app, then drops its private database. */
  dispose(): Promise<void>
}

/**
 * Makes an app with `create` on a private database of `engine` (see `privateDatabaseUrl`),
 * migrates and starts it. `dispose()` stops it and drops the database, so each test run has its
 * own tables and leaves none behind.
 *
 * @example
 * ```ts
 * import { createTestApp, startEngineApp, testEngines } from '@mortar/core/testing'
 * import { afterAll, beforeAll, describe, it } from 'vitest'
 *
 * for (const engine of testEngines()) {
 *   describe.skipIf(engine.skip !== undefined)(`my store on ${engine.title}`, () => {
 *     let started: Awaited<ReturnType<typeof startEngineApp>>
 *     beforeAll(async () => {
 *       started = await startEngineApp(engine, (url) => createTestApp({ database: url, modules: [myModule] }))
 *     })
 *     afterAll(() => started?.dispose())
 *     it('stores a row', async () => { … started.app.resolve(MY_STORE) … })
 *   })
 * }
 * ```
 */
export async function startEngineApp<A extends App<unknown>>(
  engine: Pick<TestEngine, 'engine' | 'baseUrl' | 'skip'>,
  create: (databaseUrl: string) => A,
): Promise<EngineApp<A>> {
  const database = await privateDatabaseUrl(engine)
  let app: A | undefined
  try {
    app = create(database.url)
    await app.migrate()
    await app.start()
  } catch (error) {
    // A failed start leaves nothing behind either.
    await app?.stop().catch(() => undefined)
    await database.drop()
    throw error
  }
  const started = app
  return {
    app: started,
    async dispose() {
      await started.stop()
      await database.drop()
    },
  }
}
