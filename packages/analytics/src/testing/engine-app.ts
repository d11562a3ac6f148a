// Test support for this package's own engine tests (not exported): an app with the analytics
// module on a private database of each engine (directly, or through a proxy a test can cut),
// and a request context to track from.
import {
  type Module,
  type Principal,
  RequestContext,
  type RequestScope,
  runInRequestContext,
} from '@mortar/core'
import {
  createTestApp,
  FakeClock,
  privateDatabaseUrl,
  type TestApp,
  type TestEngine,
} from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { z } from 'zod'
import { ANALYTICS, type Analytics } from '../analytics/analytics.js'
import { type AnalyticsModuleOptions, analyticsModule } from '../analytics/analytics-module.js'
import type { BufferOptions } from '../buffer/index.js'
import { defineEvents, type EventSchemas } from '../catalog/define-events.js'
import type { AnalyticsTables } from '../storage/analytics-tables.js'
import { engineOf } from '../storage/sql-dialect.js'
import type { DropReport } from '../tracker/index.js'
import { CuttableProxy } from './cuttable-proxy.js'
import { DATABASE } from '@mortar/core'

export interface EngineApp<E extends EventSchemas> {
  readonly app: TestApp
  readonly analytics: Analytics<E>
  readonly db: Kysely<AnalyticsTables>
  readonly clock: FakeClock
  readonly url: string
  close(): Promise<void>
}

/** Starts an app with `analyticsModule(options)` on a private database of `engine`. */
export async function startEngineApp<const E extends EventSchemas>(
  engine: TestEngine,
  options: AnalyticsModuleOptions<E>,
  extra: { readonly clock?: FakeClock; readonly modules?: readonly Module[] } = {},
): Promise<EngineApp<E>> {
  const database = await privateDatabaseUrl(engine)
  const clock = extra.clock ?? new FakeClock('2026-03-02T10:00:00Z')
  const app = createTestApp({
    database: database.url,
    clock,
    // Schedules run when a test drains the queue, on the fake clock.
    jobs: { workers: false },
    modules: [analyticsModule(options), ...(extra.modules ?? [])],
  })
  await app.migrate()
  await app.start()
  return {
    app,
    clock,
    url: database.url,
    analytics: app.resolve(ANALYTICS) as unknown as Analytics<E>,
    db: app.resolve(DATABASE).kysely as Kysely<AnalyticsTables>,
    async close() {
      await app.stop()
      await database.drop()
    },
  }
}

/** The catalogue of the rollup's engine tests: product views. */
export const viewEvents = defineEvents({ product_viewed: z.object({ productId: z.string() }) })

/** An app whose rollup counts views per product and keeps also-viewed lists. */
export function startViewsApp(engine: TestEngine): Promise<EngineApp<typeof viewEvents>> {
  return startEngineApp(engine, {
    events: viewEvents,
    counts: { product_viewed: ['productId'] },
    recommendations: { viewed: { event: 'product_viewed', item: 'productId' } },
  })
}

/** The tables that still hold rows of `userId`: none once `forgetUser` has run. */
export async function tablesHoldingUser(
  db: Kysely<AnalyticsTables>,
  userId: string,
): Promise<string[]> {
  const holding: string[] = []
  for (const table of [
    'mortar_analytics_event',
    'mortar_analytics_failed_event',
    'mortar_analytics_identity',
  ] as const) {
    const rows = await db
      .selectFrom(table)
      .select('user_id')
      .where('user_id', '=', userId)
      .execute()
    if (rows.length > 0) holding.push(table)
  }
  return holding
}

/** Deletes every event and the batch log: a property test's run starts from none. */
export async function clearEvents(db: Kysely<AnalyticsTables>): Promise<void> {
  await db.deleteFrom('mortar_analytics_event').execute()
  await db.deleteFrom('mortar_analytics_batch').execute()
}

/** A stored event, its properties parsed. */
export interface StoredTestEvent {
  readonly at: number
  readonly name: string
  readonly userId: string | null
  readonly anonymousId: string | null
  readonly properties: Readonly<Record<string, unknown>>
}

/** Every stored event in `(time, id)` order: the order the queries' folds take. */
export async function storedEvents(db: Kysely<AnalyticsTables>): Promise<StoredTestEvent[]> {
  const rows = await db
    .selectFrom('mortar_analytics_event')
    .select(['occurred_at', 'name', 'user_id', 'anonymous_id', 'properties'])
    .orderBy('occurred_at')
    .orderBy('id')
    .execute()
  return rows.map((row) => ({
    at: Number(row.occurred_at),
    name: row.name,
    userId: row.user_id,
    anonymousId: row.anonymous_id,
    // PostgreSQL's jsonb comes back parsed, the others' JSON as text.
    properties: (typeof row.properties === 'string'
      ? JSON.parse(row.properties)
      : row.properties) as Record<string, unknown>,
  }))
}

/** Resolves once a transaction of this database waits for a lock (or never, once `done()`). */
export async function waitingForLock(
  db: Kysely<AnalyticsTables>,
  done: () => boolean = () => false,
): Promise<void> {
  const query =
    engineOf(db as Kysely<unknown>) === 'postgres'
      ? sql<{
          n: number | string
        }>`select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`
      : sql<{
          n: number | string
        }>`select count(*) as n from information_schema.innodb_trx t join information_schema.processlist p on p.id = t.trx_mysql_thread_id where t.trx_state = 'LOCK WAIT' and p.db = database()`
  while (!done()) {
    const { rows } = await query.execute(db)
    if (Number(rows[0]?.n) > 0) return
    // InnoDB refreshes innodb_trx only when it was not read for 100 ms.
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
  await new Promise(() => {})
}

/** What a fake request knows. */
export interface FakeRequest {
  readonly ip?: string
  readonly userAgent?: string
  readonly principal?: { readonly id: string }
  readonly url?: string
  readonly headers?: Readonly<Record<string, string>>
}

/** Runs `fn` inside a request context like the HTTP adapters make. */
export function inRequest<R>(
  app: { createScope(): RequestScope },
  request: FakeRequest,
  fn: () => R,
): R {
  const headers = request.headers ?? {}
  const context = new RequestContext({
    ip: request.ip ?? '203.0.113.7',
    userAgent: request.userAgent ?? 'Mozilla/5.0 (X11; Linux x86_64) Test/1.0',
    createScope: () => app.createScope(),
    http: {
      method: 'GET',
      url: request.url ?? '/',
      header: (name) => headers[name],
      appendResponseHeader() {},
    },
  })
  if (request.principal) context.set('principal', request.principal as unknown as Principal)
  return runInRequestContext(context, fn)
}

const heartbeats = defineEvents({ heartbeat: z.object({ n: z.int() }) })

/** An app of {@link startBehindProxy}: its tracker, the proxy to cut, the drops it reported. */
export interface AppBehindProxy {
  readonly analytics: Analytics<typeof heartbeats>
  readonly proxy: CuttableProxy
  readonly reports: DropReport[]
  /** The app's clock, which stamps the events. */
  readonly clock: FakeClock
  /** The `n` of every stored heartbeat, in order. */
  storedNs(): Promise<number[]>
  /** The events logged per batch written, smallest first. */
  batchSizes(): Promise<number[]>
  close(): Promise<void>
}

/**
 * Starts an app that tracks `heartbeat` events ({ n }) into a private database of a server
 * `engine`, reached through a {@link CuttableProxy}: a test cuts it as a restart or a partition
 * would.
 */
export async function startBehindProxy(
  engine: TestEngine,
  buffer: BufferOptions,
): Promise<AppBehindProxy> {
  const database = await privateDatabaseUrl(engine)
  const proxy = await CuttableProxy.to(database.url, engine.engine === 'postgres' ? 5432 : 3306)
  const reports: DropReport[] = []
  const app = createTestApp({
    database: { url: proxy.via(database.url), connectTimeoutMs: 1_000 },
    jobs: { workers: false },
    modules: [
      analyticsModule({ events: heartbeats, buffer, onDrop: (report) => reports.push(report) }),
    ],
  })
  await app.migrate()
  await app.start()
  const db = () => app.resolve(DATABASE).kysely as Kysely<AnalyticsTables>
  return {
    analytics: app.resolve(ANALYTICS) as unknown as Analytics<typeof heartbeats>,
    proxy,
    reports,
    clock: app.clock,
    async storedNs() {
      const rows = await db().selectFrom('mortar_analytics_event').select('properties').execute()
      return rows
        .map(({ properties }) =>
          typeof properties === 'string'
            ? (JSON.parse(properties) as { n: number }).n
            : (properties as { n: number }).n,
        )
        .sort((a, b) => a - b)
    },
    async batchSizes() {
      const rows = await db().selectFrom('mortar_analytics_batch').select('events').execute()
      return rows.map((row) => Number(row.events)).sort((a, b) => a - b)
    },
    async close() {
      await app.stop()
      await proxy.cut()
      await database.drop()
    },
  }
}
