import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, inRequest, startEngineApp } from '../testing/engine-app.js'
import { rowCountingScope } from '../testing/row-counting-queries.js'
import { Suppressions } from './suppressions.js'

const events = defineEvents({ product_viewed: z.object({ productId: z.string() }) })
// Far more than a batch holds: each process once read them all, at start and on every refresh.
const SUPPRESSED = 100_000

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`suppressions on ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events })
      await subject.analytics.forgetUser('u-forgotten')
      const ids = Array.from({ length: SUPPRESSED }, (_, index) => `anon-${index}`)
      for (let start = 0; start < ids.length; start += 5_000) {
        await subject.db
          .insertInto('mortar_analytics_suppressed_anonymous')
          .values(
            ids.slice(start, start + 5_000).map((id) => ({ anonymous_id: id, suppressed_at: 0 })),
          )
          .execute()
      }
    }, 120_000)
    afterAll(async () => {
      await subject?.close()
    })

    it('reads only the rows of the ids it is asked about, however many are suppressed', async () => {
      const { scope, returned } = rowCountingScope(subject, engine)
      const suppressions = new Suppressions(scope.db)
      const found = await suppressions.among(
        ['u-forgotten', 'u-kept', undefined],
        [`anon-${SUPPRESSED - 1}`, 'anon-kept', undefined],
      )
      expect([...found.users]).toEqual(['u-forgotten'])
      expect([...found.anonymous]).toEqual([`anon-${SUPPRESSED - 1}`])
      // The suppression mark, and one row per suppressed id asked about.
      expect(returned.reduce((sum, rows) => sum + rows, 0)).toBeLessThanOrEqual(3)
    })

    it('skips the events of suppressed ids and keeps the others, with the table that large', async () => {
      const { analytics, app, db } = subject
      const before = analytics.stats()
      inRequest(app, {}, () => {
        analytics.track('product_viewed', { productId: 'p-1' }, { anonymousId: 'anon-77777' })
        analytics.track('product_viewed', { productId: 'p-2' }, { anonymousId: 'anon-kept' })
      })
      inRequest(app, { principal: { id: 'u-forgotten' } }, () =>
        analytics.track('product_viewed', { productId: 'p-3' }),
      )
      await analytics.flush()
      const after = analytics.stats()
      expect(after.skipped.suppressed - before.skipped.suppressed).toBe(2)
      expect(after.stored - before.stored).toBe(1)
      const stored = await db.selectFrom('mortar_analytics_event').select('anonymous_id').execute()
      expect(stored).toEqual([{ anonymous_id: 'anon-kept' }])
    })
  })
}
