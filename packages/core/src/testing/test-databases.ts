import { envValue } from '../config/environment.js'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'

/** One engine a test loops over: its base URL, or the one-line notice of why it is skipped. */
export interface TestEngine {
  readonly engine: 'sqlite' | 'postgres' | 'mysql'
  /** The engine's display name, for test titles. */
  readonly title: string
  /** For a server engine, the URL from `MORTAR_TEST_POSTGRES_URL` / `MORTAR_TEST_MYSQL_URL`. */
  readonly baseUrl?: string
  /** Set when the engine's variable is unset: a one-line notice naming it. */
  readonly skip?: string
}

/** A private database reachable by URL; `drop()` removes it. */
export interface PrivateDatabaseUrl {
  readonly url: string
  drop(): Promise<void>
}

/**
 * The engines a persistence test runs on: SQLite always, PostgreSQL and MariaDB when
 * `MORTAR_TEST_POSTGRES_URL` and `MORTAR_TEST_MYSQL_URL` are set. Plugin authors loop over it so
 * an adapter is tested on every engine, as Mortar's own are.
 *
 * @example
 * ```ts
 * import { privateDatabaseUrl, testEngines } from '@mortar/core/testing'
 * import { afterAll, beforeAll, describe, it } from 'vitest'
 *
 * for (const engine of testEngines()) {
 *   describe.skipIf(engine.skip !== undefined)(`my store on ${engine.title}`, () => {
 *     if (engine.skip) console.info(engine.skip)
 *     let database: Awaited<ReturnType<typeof privateDatabaseUrl>>
 *     beforeAll(async () => { database = await privateDatabaseUrl(engine) })
 *     afterAll(() => database.drop())
 *     it('stores a row', async () => { … createApp({ database: database.url }) … })
 *   })
 * }
 * ```
 */
export function testEngines(): TestEngine[] {
  const postgres = envValue(process.env, 'MORTAR_TEST_POSTGRES_URL')
  const mysql = envValue(process.env, 'MORTAR_TEST_MYSQL_URL')
  return [
    { engine: 'sqlite', title: 'SQLite' },
    postgres
      ? { engine: 'postgres', title: 'PostgreSQL', baseUrl: postgres }
      : { engine: 'postgres', title: 'PostgreSQL', skip: 'MORTAR_TEST_POSTGRES_URL is unset' },
    mysql
      ? { engine: 'mysql', title: 'MariaDB', baseUrl: mysql }
      : { engine: 'mysql', title: 'MariaDB', skip: 'MORTAR_TEST_MYSQL_URL is unset' },
  ]
}

/**
 * A fresh SQLite file (in a directory that does not exist yet), PostgreSQL schema (selected
 * through `search_path` in the URL) or MariaDB database, so test runs never see each other's
 * rows. Call `drop()` when done.
 */
export async function privateDatabaseUrl(
  engine: Pick<TestEngine, 'engine' | 'baseUrl' | 'skip'>,
): Promise<PrivateDatabaseUrl> {
  const name = `mortar_test_${randomBytes(6).toString('hex')}`
  if (engine.engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mortar-test-'))
    return {
      url: `sqlite:${join(dir, 'nested', 'app.db')}`,
      async drop() {
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const baseUrl = engine.baseUrl
  if (baseUrl === undefined) throw new Error(engine.skip ?? `${engine.engine} has no base URL`)
  if (engine.engine === 'postgres') {
    const { default: pg } = await import('pg')
    const run = async (statement: string) => {
      const client = new pg.Client({ connectionString: baseUrl })
      await client.connect()
      try {
        await client.query(statement)
      } finally {
        await client.end()
      }
    }
    await run(`create schema ${name}`)
    const url = new URL(baseUrl)
    url.searchParams.set('options', `-c search_path=${name}`)
    return { url: url.toString(), drop: () => run(`drop schema if exists ${name} cascade`) }
  }
  const mysql = await import('mysql2/promise')
  const run = async (statement: string) => {
    const client = await mysql.createConnection({ uri: baseUrl })
    try {
      await client.query(statement)
    } finally {
      await client.end()
    }
  }
  await run(`create database ${name}`)
  const url = new URL(baseUrl)
  url.pathname = `/${name}`
  return { url: url.toString(), drop: () => run(`drop database if exists ${name}`) }
}

/** A fresh Redis key prefix (`mortar-test-<random>:`), so runs never see each other's keys. */
export function privateRedisPrefix(): string {
  return `mortar-test-${randomBytes(6).toString('hex')}:`
}

/** A Redis client for one test run, on its own key prefix; `dispose()` deletes its keys and quits. */
export interface PrivateRedis {
  readonly client: Redis
  /** A fresh prefix (`mortar-test-<random>:`) for every key the test writes. */
  readonly prefix: string
  dispose(): Promise<void>
}

/**
 * Connects to the Redis at `url` for a test, with a fresh key prefix (see
 * {@link privateRedisPrefix}); `dispose()` deletes every key under it and closes the client.
 * Loads `ioredis`, which must be installed.
 *
 * @example
 * ```ts
 * import { privateRedis } from '@mortar/core/testing'
 *
 * const redis = await privateRedis(process.env.MORTAR_TEST_REDIS_URL as string)
 * const store = new MyRedisStore({ client: redis.client, prefix: redis.prefix })
 * await redis.dispose()
 * ```
 */
export async function privateRedis(url: string): Promise<PrivateRedis> {
  const { Redis } = await import('ioredis')
  const client = new Redis(url)
  const prefix = privateRedisPrefix()
  return {
    client,
    prefix,
    async dispose() {
      // Through the test's own client: a second connection is one more for the server to take.
      await deleteKeys(client, prefix)
      await client.quit()
    },
  }
}

/**
 * Deletes every key under `prefix` on the Redis at `url` (SCAN + DEL) and returns how many were
 * deleted. The prefix is taken literally (`a*` deletes `a*:1`, not `ab`), and an empty one is
 * refused: it would delete the whole database. Loads `ioredis`, which must be installed.
 */
export async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  checkPrefix(prefix)
  const { Redis } = await import('ioredis')
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  try {
    return await deleteKeys(client, prefix)
  } finally {
    client.disconnect()
  }
}

function checkPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || prefix === '') {
    throw new TypeError('deleteRedisKeys needs a key prefix; an empty one would delete every key.')
  }
}

async function deleteKeys(client: Redis, prefix: string): Promise<number> {
  // SCAN's MATCH is a glob: the prefix's own `*`, `?`, `[`, `]` and `\` match only themselves.
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500)
    cursor = next
    if (keys.length > 0) deleted += await client.del(...keys)
  } while (cursor !== '0')
  return deleted
}
