import { loadShopConfig } from '../config.js'
import { buildShop, type Shop } from '../server.js'
import { privateDatabaseUrl, type TestEngine, testEngines } from '@mortar/core/testing'

/** A shop listening on a free port over a private database, for tests over real HTTP. */
export interface TestShop extends Shop {
  readonly base: string
  /** Closes the server (stopping the app) and drops the private database. */
  close(): Promise<void>
}

/** The engines a shop test runs on, titled with the one-line notice of why one is skipped. */
export function shopTestEngines(): (TestEngine & { readonly describeTitle: string })[] {
  return testEngines().map((engine) => ({
    ...engine,
    describeTitle:
      engine.skip === undefined ? engine.title : `${engine.title} (skipped: ${engine.skip})`,
  }))
}

/**
 * Starts the shop on a private database of `engine`, with a cheap password hash (the cost is a
 * setting; production refuses it) and the development secrets.
 */
export async function startTestShop(engine: TestEngine): Promise<TestShop> {
  const database = await privateDatabaseUrl(engine)
  try {
    const shop = await buildShop(
      loadShopConfig({ DATABASE_URL: database.url, PASSWORD_HASH_LOG_N: '10' }),
    )
    const base = await shop.server.listen({ port: 0, host: '127.0.0.1' })
    return {
      ...shop,
      base,
      async close() {
        try {
          await shop.server.close()
        } finally {
          await database.drop()
        }
      },
    }
  } catch (error) {
    await database.drop()
    throw error
  }
}
