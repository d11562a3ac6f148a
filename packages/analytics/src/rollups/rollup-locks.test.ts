import { testEngines } from '@mortar/core/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type EngineApp,
  startViewsApp,
  type viewEvents,
  waitingForLock,
} from '../testing/engine-app.js'
import { uuidV7 } from '@mortar/core'

// MariaDB only: at REPEATABLE READ its INSERT … SELECTs share-lock the event keys and gaps they
// read (see rollupTransaction). PostgreSQL's reads lock no row, and SQLite's transactions write
// one at a time: neither can fail this test, so it would only look like cover there.
for (const engine of testEngines().filter((each) => each.engine === 'mysql')) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`The rollup on ${engine.title}`, () => {
    let subject: EngineApp<typeof viewEvents>
    beforeAll(async () => {
      subject = await startViewsApp(engine)
    })
    afterAll(() => subject?.close())

    it('locks no event a batch write inserts while it runs', async () => {
      const { analytics, clock, db } = subject
      const at = clock.nowMs()
      for (let i = 0; i < 20; i++) analytics.track('product_viewed', { productId: `p-${i % 4}` })
      await analytics.flush()
      const [logged] = await db.selectFrom('mortar_analytics_batch').select('batch_id').execute()
      let release = () => {}
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      let held = () => {}
      const holding = new Promise<void>((resolve) => {
        held = resolve
      })
      // Another transaction holds the batch's log row: the rollup folds the batch (its
      // INSERT … SELECTs read the events), then waits to delete the row, its transaction open.
      const holder = db.transaction().execute(async (trx) => {
        await sql`select batch_id from mortar_analytics_batch where batch_id = ${logged?.batch_id} for update`.execute(
          trx,
        )
        held()
        await released
      })
      await holding
      const rollup = analytics.rollup()
      await waitingForLock(db)
      // A write of the same moment (the present, or a late flush) meanwhile: at most 1 s's wait.
      const insert = sql`insert into mortar_analytics_event (occurred_at, id, batch_id, name, properties) values (${at}, ${uuidV7(at)}, 1, 'product_viewed', '{"productId":"p-beside"}')`
      const inserted = await db
        .transaction()
        .execute(async (trx) => {
          await sql`set statement innodb_lock_wait_timeout = 1 for ${insert}`.execute(trx)
          return 'inserted'
        })
        .catch((error: unknown) => String(error))
      release()
      await holder
      await rollup
      expect(inserted).toBe('inserted')
    })
  })
}
