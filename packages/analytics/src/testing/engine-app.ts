// Test support for this package's own engine tests (not exported): an app with the analytics
// module on a private database of each engine, and a request context to track from.
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
import type { Kysely } from 'kysely'
import { ANALYTICS, type Analytics } from '../analytics/analytics.js'
import { type AnalyticsModuleOptions, analyticsModule } from '../analytics/analytics-module.js'
import type { EventSchemas } from '../catalog/define-events.js'
import type { AnalyticsTables } from '../storage/analytics-tables.js'
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
