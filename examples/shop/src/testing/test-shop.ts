import { createServer, type AddressInfo } from 'node:net'
import {
  deleteRedisKeys,
  privateDatabaseUrl,
  privateRedisPrefix,
  type TestEngine,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll } from 'vitest'
import { loadShopConfig } from '../config.js'
import type { ShopPolicy } from '../access/index.js'
import { buildShop, type Shop } from '../server.js'

/** A shop listening on a free port over a private database, for tests over real HTTP. */
export interface TestShop extends Shop {
  readonly base: string
  /** Closes the server (stopping the app), drops the private database and Redis keys. */
  close(): Promise<void>
}

/** Options of {@link startTestShop}. */
export interface TestShopOptions {
  /** A Redis URL: sessions and the login throttle go there, under a private prefix. */
  readonly redisUrl?: string
  /** More environment variables for the shop's config. */
  readonly env?: Readonly<Record<string, string>>
  /** The access policy, when not the shop's own. */
  readonly policy?: ShopPolicy
}

/** A port no one listens on now: the system's pick for a server that is closed at once. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

/** The engines a shop test runs on, titled with the one-line notice of why one is skipped. */
export function shopTestEngines(): (TestEngine & { readonly describeTitle: string })[] {
  return testEngines().map((engine) => ({
    ...engine,
    describeTitle:
      engine.skip === undefined ? engine.title : `${engine.title} (skipped: ${engine.skip})`,
  }))
}

/** SQLite, which every test can run on: for what the shop does alike on every engine. */
export function sqliteTestEngine(): TestEngine {
  const sqlite = testEngines().find((engine) => engine.engine === 'sqlite')
  if (sqlite === undefined) throw new Error('no SQLite engine among the test engines')
  return sqlite
}

/**
 * A shop for the tests of the enclosing `describe`: started before them (on `engine`, SQLite by
 * default) and closed after them. The function it returns gives that shop inside the tests and
 * the hooks declared after this call.
 */
export function useTestShop(
  options: TestShopOptions & { readonly engine?: TestEngine } = {},
): () => TestShop {
  let shop: TestShop | undefined
  beforeAll(async () => {
    shop = await startTestShop(options.engine ?? sqliteTestEngine(), options)
  })
  afterAll(async () => {
    await shop?.close()
  })
  return () => {
    if (shop === undefined) throw new Error('the test shop starts in beforeAll: use it in a test')
    return shop
  }
}

/**
 * Starts the shop on a private database of `engine`, with a cheap password hash (the cost is a
 * setting; production refuses it) and the development secrets.
 */
export async function startTestShop(
  engine: TestEngine,
  options: TestShopOptions = {},
): Promise<TestShop> {
  const database = await privateDatabaseUrl(engine)
  const prefix = privateRedisPrefix()
  const cleanUp = async () => {
    try {
      await database.drop()
    } finally {
      if (options.redisUrl !== undefined) await deleteRedisKeys(options.redisUrl, prefix)
    }
  }
  try {
    // The port is known before the app is built, since the SMS channel is sent to the shop's own
    // SMS stand-in on it.
    const port = await freePort()
    const shop = await buildShop(
      loadShopConfig({
        NODE_ENV: 'test',
        DATABASE_URL: database.url,
        PORT: String(port),
        PASSWORD_HASH_LOG_N: '10',
        ...(options.redisUrl === undefined
          ? {}
          : { REDIS_URL: options.redisUrl, REDIS_PREFIX: prefix }),
        ...options.env,
      }),
      { policy: options.policy },
    )
    const base = await shop.server.listen({ port, host: '127.0.0.1' })
    return {
      ...shop,
      base,
      async close() {
        try {
          await shop.server.close()
        } finally {
          await cleanUp()
        }
      },
    }
  } catch (error) {
    await cleanUp()
    throw error
  }
}
