// Test support (not exported): the queries on an engine app's database, counting the rows each
// statement returns, so a test shows an answer never reads rows that grow with the events.
import type { TestEngine } from '@mortar/core/testing'
import type { Kysely, KyselyPlugin } from 'kysely'
import type { EventSchemas } from '../catalog/define-events.js'
import { AnalyticsQueries } from '../queries/analytics-queries.js'
import type { QueryScope } from '../queries/query-scope.js'
import { type CountsConfig, rollupPlan } from '../rollups/rollup-config.js'
import type { EngineApp } from './engine-app.js'

export interface RowCountingQueries {
  readonly queries: AnalyticsQueries
  /** Rows returned by each statement run so far, in order. */
  readonly returned: readonly number[]
}

/** A UTC query scope over `subject`'s database, counting the rows each statement returns. */
export function rowCountingScope<E extends EventSchemas>(
  subject: EngineApp<E>,
  engine: TestEngine,
): { readonly scope: QueryScope; readonly returned: readonly number[] } {
  const returned: number[] = []
  const counter: KyselyPlugin = {
    transformQuery: (args) => args.node,
    async transformResult(args) {
      returned.push(args.result.rows.length)
      return args.result
    },
  }
  const db = subject.db.withPlugin(counter) as unknown as Kysely<unknown>
  return { scope: { db, engine: engine.engine, timeZone: 'UTC' }, returned }
}

/**
 * Queries in UTC over `subject`'s database, with `events`, a heartbeat of `heartbeatMs`, and the
 * rollups' `counts` (the app's, for answers read from the rollups).
 */
export function rowCountingQueries<E extends EventSchemas>(
  subject: EngineApp<E>,
  engine: TestEngine,
  events: E,
  heartbeatMs: number,
  counts?: CountsConfig<E>,
): RowCountingQueries {
  const { scope, returned } = rowCountingScope(subject, engine)
  const plan = rollupPlan({ events, timeZone: 'UTC', counts })
  const queries = new AnalyticsQueries(scope, plan, heartbeatMs)
  return { queries, returned }
}
