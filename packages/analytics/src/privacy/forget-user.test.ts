import { DATABASE, JOBS } from '@mortar/core'
import { createTestApp, type TestApp, testEngines } from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ANALYTICS, type Analytics } from '../analytics/analytics.js'
import { analyticsModule } from '../analytics/analytics-module.js'
import { defineEvents } from '../catalog/define-events.js'
import { AnalyticsIdentityError } from '../errors.js'
import type { EventBatch, EventSink } from '../sinks/event-sink.js'
import { isTransientDatabaseError } from '../sinks/sql/transient-error.js'
import { SqlEventSink } from '../sinks/sql/sql-event-sink.js'
import {
  type EngineApp,
  inRequest,
  startEngineApp,
  tablesHoldingUser,
} from '../testing/engine-app.js'

const events = defineEvents({ product_viewed: z.object({ productId: z.string() }) })

/** The SQL sink, holding its writes until `open()`: a flush in flight while forgetUser runs. */
function gatedSink(db: () => Kysely<unknown>) {
  let open = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  let arrived = () => {}
  const holding = new Promise<void>((resolve) => {
    arrived = resolve
  })
  const sink: EventSink = {
    async write(batch: EventBatch) {
      arrived()
      await opened
      await new SqlEventSink({ db: db() }).write(batch)
    },
    isTransient: isTransientDatabaseError,
  }
  return { sink, open, holding }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`forgetUser on ${engine.title}`, () => {
    let subject: EngineApp<typeof events>
    let other: TestApp
    const gate = gatedSink(() => other.resolve(DATABASE).kysely as Kysely<unknown>)

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events })
      // A second process of the app, on the same database.
      other = createTestApp({
        database: subject.url,
        clock: subject.clock,
        jobs: { workers: false },
        modules: [analyticsModule({ events, sink: gate.sink })],
      })
      await other.start()
    })
    afterAll(async () => {
      await other?.stop()
      await subject?.close()
    })

    it('leaves nothing of a user that another process was writing while they were forgotten', async () => {
      const { analytics, app, clock, db } = subject
      const elsewhere = other.resolve(ANALYTICS) as unknown as Analytics<typeof events>
      const visitor = { principal: { id: 'u-gone' }, ip: '198.51.100.9', userAgent: 'Race/1.0' }
      inRequest(other, visitor, () => {
        elsewhere.identify('u-gone', { plan: 'pro' })
        elsewhere.track('product_viewed', { productId: 'p-1' })
        // A failed event keeps its properties: it must go too.
        elsewhere.track('product_viewed', { productId: 7 as unknown as string })
      })
      const flushed = elsewhere.flush()
      // That process checked its suppressions before this one forgot the user.
      await gate.holding
      await analytics.forgetUser('u-gone')
      gate.open()
      await flushed
      clock.advance(60_000)
      await app.resolve(JOBS).drain()
      expect(await tablesHoldingUser(db, 'u-gone')).toEqual([])
    })

    it('keeps recording a user whose deletion did not commit', async () => {
      const { analytics, app, db } = subject
      const visitor = { principal: { id: 'u-kept' } }
      inRequest(app, visitor, () => analytics.track('product_viewed', { productId: 'p-before' }))
      // The transaction fails partway (the identity table is gone) and rolls back.
      const identity = sql.table('mortar_analytics_identity')
      const moved = sql.table('mortar_analytics_identity_moved')
      await sql`alter table ${identity} rename to ${moved}`.execute(db)
      try {
        await expect(analytics.forgetUser('u-kept')).rejects.toThrow()
      } finally {
        await sql`alter table ${moved} rename to ${identity}`.execute(db)
      }
      const before = analytics.stats()
      inRequest(app, visitor, () => analytics.track('product_viewed', { productId: 'p-after' }))
      await analytics.flush()
      const after = analytics.stats()
      expect(after.skipped.suppressed).toBe(before.skipped.suppressed)
      expect(after.stored).toBe(before.stored + 1)
      expect(await tablesHoldingUser(db, 'u-kept')).toEqual(['mortar_analytics_event'])
    })

    it('forgets a numeric id as its digits, and refuses one that is not a safe integer', async () => {
      const { analytics, app, db } = subject
      inRequest(app, { principal: { id: 4242 as unknown as string } }, () =>
        analytics.track('product_viewed', { productId: 'p-numeric' }),
      )
      const forget = analytics.forgetUser as (userId: unknown) => Promise<unknown>
      await expect(forget.call(analytics, Number.NaN)).rejects.toBeInstanceOf(
        AnalyticsIdentityError,
      )
      await expect(forget.call(analytics, 2 ** 53)).rejects.toMatchObject({
        code: 'E_ANALYTICS_IDENTITY',
      })
      await expect(forget.call(analytics, 4242)).resolves.toMatchObject({ events: 1 })
      const before = analytics.stats().skipped.suppressed
      inRequest(app, { principal: { id: '4242' } }, () =>
        analytics.track('product_viewed', { productId: 'p-later' }),
      )
      await analytics.flush()
      expect(analytics.stats().skipped.suppressed).toBe(before + 1)
      expect(await tablesHoldingUser(db, '4242')).toEqual([])
    })
  })
}
