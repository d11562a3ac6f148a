import { CLOCK, type Clock, DATABASE, JOBS } from '@mortar/core'
import { createTestApp, type TestApp, testEngines } from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ANALYTICS, type Analytics } from '../analytics/analytics.js'
import { analyticsModule } from '../analytics/analytics-module.js'
import { defineEvents } from '../catalog/define-events.js'
import { AnalyticsForgetError, AnalyticsIdentityError } from '../errors.js'
import type { EventBatch, EventSink } from '../sinks/event-sink.js'
import { MemoryEventSink } from '../sinks/memory/memory-event-sink.js'
import { isTransientDatabaseError } from '../sinks/sql/transient-error.js'
import type { AnalyticsStats } from '../tracker/index.js'
import { SqlEventSink } from '../sinks/sql/sql-event-sink.js'
import { makeBatchId, makeStoredEvent } from '../testing/index.js'
import {
  type EngineApp,
  inRequest,
  startEngineApp,
  tablesHoldingUser,
  waitingForLock,
} from '../testing/engine-app.js'

const events = defineEvents({ product_viewed: z.object({ productId: z.string() }) })

/** A promise and the function that resolves it. */
function signal(): { readonly fired: Promise<void>; readonly fire: () => void } {
  let fire = () => {}
  const fired = new Promise<void>((resolve) => {
    fire = resolve
  })
  return { fired, fire }
}

/** The SQL sink, holding each write from `hold()` until `open()`: a flush in flight while forgetUser runs. */
function gatedSink(db: () => Kysely<unknown>, clock: () => Clock) {
  let gate: { readonly opened: Promise<void>; readonly arrived: () => void } | undefined
  const sink: EventSink = {
    async write(batch: EventBatch) {
      if (gate !== undefined) {
        gate.arrived()
        await gate.opened
      }
      return new SqlEventSink({ db: db(), clock: clock() }).write(batch)
    },
    isTransient: isTransientDatabaseError,
  }
  function hold() {
    const opened = signal()
    const holding = signal()
    gate = { opened: opened.fired, arrived: holding.fire }
    return {
      holding: holding.fired,
      open() {
        gate = undefined
        opened.fire()
      },
    }
  }
  return { sink, hold }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`forgetUser on ${engine.title}`, () => {
    let subject: EngineApp<typeof events>
    let other: TestApp
    const sink = gatedSink(
      () => other.resolve(DATABASE).kysely as Kysely<unknown>,
      () => other.resolve(CLOCK),
    )

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events })
      // A second process of the app, on the same database.
      other = createTestApp({
        database: subject.url,
        clock: subject.clock,
        jobs: { workers: false },
        modules: [analyticsModule({ events, sink: sink.sink })],
      })
      await other.start()
    })
    afterAll(async () => {
      await other?.stop()
      await subject?.close()
    })

    /** Writes `batch` in a transaction of the other process, left open until `commit()`. */
    async function writeInFlight(batch: EventBatch): Promise<{ commit(): Promise<void> }> {
      const committed = signal()
      const written = signal()
      const otherDb = other.resolve(DATABASE).kysely as Kysely<unknown>
      const writing = otherDb.transaction().execute(async (trx) => {
        await new SqlEventSink({ db: trx }).write(batch)
        written.fire()
        await committed.fired
      })
      await written.fired
      return {
        commit() {
          committed.fire()
          return writing
        },
      }
    }

    /** The ids of the stored events under `anonymousId`. */
    function eventsUnder(anonymousId: string) {
      return subject.db
        .selectFrom('mortar_analytics_event')
        .select('id')
        .where('anonymous_id', '=', anonymousId)
        .execute()
    }

    it('leaves nothing of a user that another process was writing while they were forgotten', async () => {
      const { analytics, app, clock, db } = subject
      const elsewhere = other.resolve(ANALYTICS) as unknown as Analytics<typeof events>
      const visitor = { principal: { id: 'u-gone' }, ip: '198.51.100.9', userAgent: 'Race/1.0' }
      const gate = sink.hold()
      inRequest(other, visitor, () => {
        elsewhere.identify('u-gone', { plan: 'pro' })
        elsewhere.track('product_viewed', { productId: 'p-1' })
        // A failed event keeps its properties: it must go too.
        elsewhere.track('product_viewed', { productId: 7 as unknown as string })
      })
      const flushed = elsewhere.flush()
      // That process checked its suppressions before this one forgot the user.
      await gate.holding
      const before = elsewhere.stats()
      await analytics.forgetUser('u-gone')
      gate.open()
      await flushed
      // Its write deleted them: they count as skipped, not as stored.
      expectSkippedNotStored(before, elsewhere.stats(), 3)
      clock.advance(60_000)
      await app.resolve(JOBS).drain()
      expect(await tablesHoldingUser(db, 'u-gone')).toEqual([])
    })

    it('stores no anonymous event of a forgotten user that another process writes after the forget', async () => {
      const { analytics, app, clock, db } = subject
      const elsewhere = other.resolve(ANALYTICS) as unknown as Analytics<typeof events>
      const browser = { ip: '198.51.100.23', userAgent: 'Anon/1.0' }
      const laptop = { ip: '198.51.100.24', userAgent: 'Laptop/1.0' }
      // Each device's first-party cookie: a cookieless id is never linked to a user.
      const browserCookie = { anonymousId: 'c-browser' }
      const laptopCookie = { anonymousId: 'c-laptop' }
      // The visitor browses, then signs in: their cookie's anonymous id is linked to them.
      inRequest(app, browser, () =>
        analytics.track('product_viewed', { productId: 'p-before' }, browserCookie),
      )
      inRequest(app, { ...browser, principal: { id: 'u-anon' } }, () =>
        analytics.identify('u-anon', undefined, browserCookie),
      )
      await analytics.flush()
      const linked = await db
        .selectFrom('mortar_analytics_identity')
        .select('anonymous_id')
        .where('user_id', '=', 'u-anon')
        .execute()
      expect(linked).toHaveLength(1)
      const gate = sink.hold()
      inRequest(other, browser, () =>
        elsewhere.track('product_viewed', { productId: 'p-late' }, browserCookie),
      )
      // A device first linked in a batch written after the forget: its anonymous events go too.
      inRequest(other, laptop, () =>
        elsewhere.track('product_viewed', { productId: 'p-laptop' }, laptopCookie),
      )
      inRequest(other, { ...laptop, principal: { id: 'u-anon' } }, () =>
        elsewhere.identify('u-anon', undefined, laptopCookie),
      )
      const flushed = elsewhere.flush()
      // That process checked its suppressions before this one forgot the user.
      await gate.holding
      await analytics.forgetUser('u-anon')
      gate.open()
      await flushed
      // Later anonymous events of the browser: a batch of events alone (PostgreSQL's COPY
      // path), then a failed one.
      inRequest(other, browser, () =>
        elsewhere.track('product_viewed', { productId: 'p-after' }, browserCookie),
      )
      await elsewhere.flush()
      inRequest(other, browser, () =>
        elsewhere.track('product_viewed', { productId: 8 as unknown as string }, browserCookie),
      )
      await elsewhere.flush()
      clock.advance(60_000)
      await app.resolve(JOBS).drain()
      const left = await Promise.all(
        (['mortar_analytics_event', 'mortar_analytics_failed_event'] as const).map((table) =>
          db.selectFrom(table).select(['user_id', 'anonymous_id']).execute(),
        ),
      )
      // Every other event of this suite has a user.
      expect(left.flat().filter((row) => row.user_id === null)).toEqual([])
      expect(await tablesHoldingUser(db, 'u-anon')).toEqual([])
      // Every anonymous id, the laptop's suppressed by the late link's write: on the app's clock.
      const suppressed = await db
        .selectFrom('mortar_analytics_suppressed_anonymous')
        .select('suppressed_at')
        .execute()
      expect(suppressed.length).toBeGreaterThanOrEqual(2)
      for (const row of suppressed)
        expect(Number(row.suppressed_at)).toBeLessThanOrEqual(clock.nowMs())
    })

    // SQLite's transactions write one at a time: no batch is ever in flight beside forgetUser.
    if (engine.engine !== 'sqlite')
      it('waits for a batch write in flight in another process, then deletes what it wrote', async () => {
        const { analytics, db } = subject
        await db
          .insertInto('mortar_analytics_identity')
          .values({ anonymous_id: 'a-locked', user_id: 'u-locked', linked_at: 0 })
          .execute()
        const batch: EventBatch = {
          id: 9_000_001,
          events: [
            {
              id: '019ca000-0000-7000-8000-000000000001',
              name: 'product_viewed',
              occurredAt: subject.clock.nowMs(),
              userId: null,
              anonymousId: 'a-locked',
              sessionId: null,
              properties: '{"productId":"p-locked"}',
              ip: null,
              userAgent: null,
              country: null,
            },
          ],
          failed: [],
          links: [],
        }
        const writing = await writeInFlight(batch)
        let settled = false
        const forgetting = analytics.forgetUser('u-locked').finally(() => {
          settled = true
        })
        const first = await Promise.race([
          forgetting.then(() => 'forgot'),
          waitingForLock(db, () => settled).then(() => 'waited'),
        ])
        await writing.commit()
        await forgetting
        expect(first).toBe('waited')
        expect(await eventsUnder('a-locked')).toEqual([])
      })

    it('leaves no link that a batch in flight in another connection wrote: the anonymous id of the forgotten user never comes back', async () => {
      const { analytics, db } = subject
      const at = subject.clock.nowMs()
      const anonymousEvent = (id: string) =>
        makeStoredEvent({ id, userId: null, anonymousId: 'a-inflight', occurredAt: at })
      const batch: EventBatch = {
        id: makeBatchId(),
        events: [anonymousEvent('019ca000-0000-7000-8000-0000000000a1')],
        failed: [],
        links: [{ anonymousId: 'a-inflight', userId: 'u-inflight', linkedAt: at }],
      }
      // The other connection's batch, written and not yet committed, while the forget starts
      // (on SQLite the forget's BEGIN IMMEDIATE waits for it; elsewhere its lock does).
      const writing = await writeInFlight(batch)
      const forgetting = analytics.forgetUser('u-inflight')
      if (engine.engine !== 'sqlite') await waitingForLock(db)
      await writing.commit()
      await forgetting
      const links = await db
        .selectFrom('mortar_analytics_identity')
        .select('user_id')
        .where('anonymous_id', '=', 'a-inflight')
        .execute()
      expect(links).toEqual([])
      // The browser's later anonymous events are not stored: its id is suppressed.
      await new SqlEventSink({ db: other.resolve(DATABASE).kysely as Kysely<unknown> }).write({
        id: makeBatchId(),
        events: [anonymousEvent('019ca000-0000-7000-8000-0000000000a2')],
        failed: [],
        links: [],
      })
      expect(await eventsUnder('a-inflight')).toEqual([])
      expect(await tablesHoldingUser(db, 'u-inflight')).toEqual([])
    })

    // A caller's transaction that tracks with trackNow joins it, and may run under REPEATABLE
    // READ: its snapshot can predate a forget its share lock then waits for or follows.
    if (engine.engine !== 'sqlite')
      it('stores nothing of a user forgotten after the snapshot of a REPEATABLE READ write', async () => {
        const { analytics, db } = subject
        const batch: EventBatch = {
          id: makeBatchId(),
          events: [makeStoredEvent({ userId: 'u-snapshot', occurredAt: subject.clock.nowMs() })],
          failed: [],
          links: [],
        }
        const snapshot = signal()
        const forgotten = signal()
        const otherDb = other.resolve(DATABASE).kysely as Kysely<unknown>
        const writing = otherDb
          .transaction()
          .setIsolationLevel('repeatable read')
          .execute(async (trx) => {
            // The transaction's snapshot, taken by its first read: before the forget.
            await sql`select count(*) as n from ${sql.table('mortar_analytics_suppressed')}`.execute(
              trx,
            )
            snapshot.fire()
            await forgotten.fired
            return new SqlEventSink({ db: trx }).write(batch)
          })
        await snapshot.fired
        await analytics.forgetUser('u-snapshot')
        forgotten.fire()
        const outcome = await writing.catch((error: unknown) => error)
        if (engine.engine === 'postgres') {
          // The state row changed after the snapshot: PostgreSQL refuses the share lock, and
          // the caller retries as after any serialization failure (the buffer does by itself).
          expect(outcome).toMatchObject({ code: '40001' })
          expect(isTransientDatabaseError(outcome)).toBe(true)
        } else {
          // MariaDB's locking reads see the latest rows, snapshot or not.
          expect(outcome).toEqual({ suppressed: { events: 1, failed: 0 } })
        }
        expect(await tablesHoldingUser(db, 'u-snapshot')).toEqual([])
      })

    it('forgets a user linked to more anonymous ids than one statement can name', async () => {
      const { analytics, app, db } = subject
      // Past PostgreSQL's 65,535 bound parameters, and twice SQLite's 32,766.
      const many = Array.from({ length: 70_000 }, (_, index) => `many-${index}`)
      for (let start = 0; start < many.length; start += 5_000) {
        await db
          .insertInto('mortar_analytics_identity')
          .values(
            many
              .slice(start, start + 5_000)
              .map((id) => ({ anonymous_id: id, user_id: 'u-many', linked_at: 0 })),
          )
          .execute()
      }
      const day = () => ({
        from: new Date(Date.UTC(2026, 2, 2)),
        to: new Date(Date.UTC(2026, 2, 3)),
      })
      const viewed = async () =>
        (await analytics.series('product_viewed', day())).reduce((sum, p) => sum + p.count, 0)
      const before = await viewed()
      // The last ids of the list, past each engine's bound, and the user's own event.
      inRequest(app, {}, () => {
        for (const anonymousId of ['many-0', 'many-40000', 'many-69999']) {
          analytics.track('product_viewed', { productId: 'p-many' }, { anonymousId })
        }
      })
      inRequest(app, { principal: { id: 'u-many' } }, () =>
        analytics.track('product_viewed', { productId: 'p-many' }),
      )
      await analytics.flush()
      await analytics.rollup()
      expect(await viewed()).toBe(before + 4)
      expect(await analytics.forgetUser('u-many')).toEqual({
        events: 4,
        failedEvents: 0,
        identityLinks: many.length,
        rollupsKeptBefore: null,
      })
      // Their share of the daily counts went with them.
      expect(await viewed()).toBe(before)
      expect(await tablesHoldingUser(db, 'u-many')).toEqual([])
      const left = await db
        .selectFrom('mortar_analytics_event')
        .select('id')
        .where('anonymous_id', 'in', ['many-0', 'many-40000', 'many-69999'])
        .execute()
      expect(left).toEqual([])
      // And the last id is suppressed: its later events with no user are not stored.
      const skipped = analytics.stats().skipped.suppressed
      inRequest(app, {}, () =>
        analytics.track('product_viewed', { productId: 'p-many' }, { anonymousId: 'many-69999' }),
      )
      await analytics.flush()
      expect(analytics.stats().skipped.suppressed).toBe(skipped + 1)
    }, 120_000)

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

    // SQLite stored a longer id whole, PostgreSQL refused it with a database error, and
    // MariaDB's INSERT IGNORE cut it to 255 characters: a suppression of another user's id. An
    // id no column holds (only failed events carry one, whole) is suppressed apart, whole.
    it('suppresses an id at the limit exactly, and one no column holds apart from every id', async () => {
      const { analytics, db } = subject
      const suppressed = async () =>
        (await db.selectFrom('mortar_analytics_suppressed').select('user_id').execute()).map(
          (row) => row.user_id,
        )
      const whole = async () =>
        (await db.selectFrom('mortar_analytics_suppressed_whole').select('user_id').execute()).map(
          (row) => JSON.parse(row.user_id) as string,
        )
      const before = await suppressed()
      const wholeBefore = await whole()
      // 255 characters as the column counts them (455 UTF-16 units).
      const atLimit = `${'\u{1F600}'.repeat(200)}${'u'.repeat(55)}`
      const unheld = [`${atLimit}x`, 'a\0b', 'a\ud800b']
      for (const userId of unheld) {
        await expect(analytics.forgetUser(userId)).resolves.toMatchObject({ events: 0 })
      }
      expect(await suppressed()).toEqual(before)
      expect((await whole()).filter((id) => !wholeBefore.includes(id)).sort()).toEqual(
        [...unheld].sort(),
      )
      await analytics.forgetUser(atLimit)
      const after = await suppressed()
      expect(after.filter((id) => !before.includes(id))).toEqual([atLimit])
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

/** Checks that `count` events between two stats were skipped as suppressed, not stored or failed. */
function expectSkippedNotStored(before: AnalyticsStats, after: AnalyticsStats, count: number) {
  expect(after.stored).toBe(before.stored)
  expect(after.failed).toBe(before.failed)
  expect(after.skipped.suppressed - before.skipped.suppressed).toBe(count)
}

/** Tracks one product view of `userId` and flushes it to the sink. */
async function viewedAndFlushed(subject: EngineApp<typeof events>, userId: string): Promise<void> {
  inRequest(subject.app, { principal: { id: userId } }, () =>
    subject.analytics.track('product_viewed', { productId: 'p-1' }),
  )
  await subject.analytics.flush()
}

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(
    `forgetUser with a sink of the app's own on ${engine.title}`,
    () => {
      it('erases the user from the sink, buffered events included, and counts what it erased', async () => {
        const sink = new MemoryEventSink()
        const subject = await startEngineApp(engine, { events, sink })
        try {
          const { analytics, app } = subject
          await viewedAndFlushed(subject, 'u-1')
          // Still in the buffer when forgetUser is called.
          inRequest(app, { principal: { id: 'u-1' } }, () =>
            analytics.track('product_viewed', { productId: 'p-2' }),
          )
          inRequest(app, { principal: { id: 'u-2' } }, () =>
            analytics.track('product_viewed', { productId: 'p-3' }),
          )
          expect(await analytics.forgetUser('u-1')).toEqual({
            events: 2,
            failedEvents: 0,
            identityLinks: 0,
            rollupsKeptBefore: null,
          })
          await analytics.flush()
          expect(sink.events.map((event) => event.userId)).toEqual(['u-2'])
        } finally {
          await subject.close()
        }
      })

      it('suppresses the anonymous ids the sink unlinked: their later events with no user are not stored', async () => {
        const sink = new MemoryEventSink()
        const subject = await startEngineApp(engine, { events, sink })
        try {
          const { analytics, app } = subject
          const anonymousId = `anon-${engine.engine}`
          inRequest(app, {}, () => {
            analytics.track('product_viewed', { productId: 'p-1' }, { anonymousId })
            analytics.identify('u-1', undefined, { anonymousId })
          })
          await analytics.flush()
          expect(await analytics.forgetUser('u-1')).toEqual({
            events: 2,
            failedEvents: 0,
            identityLinks: 1,
            rollupsKeptBefore: null,
          })
          // The same device, signed out; and another visitor, whose event is kept.
          inRequest(app, {}, () => {
            analytics.track('product_viewed', { productId: 'p-2' }, { anonymousId })
            analytics.track('product_viewed', { productId: 'p-3' }, { anonymousId: 'anon-other' })
          })
          await analytics.flush()
          expect(sink.events.map((event) => event.anonymousId)).toEqual(['anon-other'])
          expect(analytics.stats().skipped.suppressed).toBe(1)
          // Another process of the app learns it from the database.
          const rows = await subject.db
            .selectFrom('mortar_analytics_suppressed_anonymous')
            .select('anonymous_id')
            .execute()
          expect(rows.map((row) => row.anonymous_id)).toEqual([anonymousId])
        } finally {
          await subject.close()
        }
      })

      it('suppresses every anonymous id of a sink that unlinked more than a statement can carry', async () => {
        // 40,000 ids, two parameters each: past every engine's bound on one statement.
        const many = Array.from({ length: 40_000 }, (_, index) => `anon-${index}`)
        const held = new MemoryEventSink()
        const sink: EventSink = {
          write: (batch) => held.write(batch),
          linkedAnonymousIds: (userId) => held.linkedAnonymousIds(userId),
          forgetAnonymous: (anonymousIds) => held.forgetAnonymous(anonymousIds),
          async forget(userId) {
            const report = await held.forget(userId)
            return { ...report, anonymousIds: [...report.anonymousIds, ...many] }
          },
        }
        const subject = await startEngineApp(engine, { events, sink })
        try {
          const { analytics, app } = subject
          await analytics.forgetUser('u-1')
          inRequest(app, {}, () => {
            analytics.track('product_viewed', { productId: 'p-1' }, { anonymousId: 'anon-39999' })
          })
          await analytics.flush()
          expect(held.events).toEqual([])
          const [count] = await subject.db
            .selectFrom('mortar_analytics_suppressed_anonymous')
            .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
            .execute()
          expect(Number(count?.n)).toBe(many.length)
        } finally {
          await subject.close()
        }
      }, 120_000)

      it('suppresses the anonymous ids of a sink whose forget was cut short after it unlinked them, and finishes the erasure in its job', async () => {
        const held = new MemoryEventSink()
        // The process dies between the sink's forget and what follows it: here, its forget
        // deletes everything, then fails once.
        let crashes = 1
        const sink: EventSink = {
          write: (batch) => held.write(batch),
          linkedAnonymousIds: (userId) => held.linkedAnonymousIds(userId),
          forgetAnonymous: (anonymousIds) => held.forgetAnonymous(anonymousIds),
          async forget(userId) {
            const report = await held.forget(userId)
            if (crashes-- > 0) throw new Error('crashed after the sink forgot')
            return report
          },
        }
        const subject = await startEngineApp(engine, { events, sink })
        try {
          const { analytics, app, clock } = subject
          const anonymousId = `anon-crash-${engine.engine}`
          inRequest(app, {}, () => {
            analytics.track('product_viewed', { productId: 'p-1' }, { anonymousId })
            analytics.identify('u-crash', undefined, { anonymousId })
          })
          await analytics.flush()
          await expect(analytics.forgetUser('u-crash')).rejects.toThrow('crashed')
          // The device, signed out: its events are not stored, though the sink's link is gone.
          inRequest(app, {}, () =>
            analytics.track('product_viewed', { productId: 'p-2' }, { anonymousId }),
          )
          await analytics.flush()
          expect(held.events).toEqual([])
          expect(analytics.stats().skipped.suppressed).toBe(1)
          // The recorded request runs again and finds nothing left.
          clock.advance(120_000)
          await app.resolve(JOBS).drain()
          const jobs = await app.resolve(JOBS).list({ name: 'analytics.forget' })
          expect(jobs).toEqual([])
        } finally {
          await subject.close()
        }
      })

      it('finishes in its job an erasure whose sink was down, without a second call', async () => {
        const held = new MemoryEventSink()
        let down = true
        const sink: EventSink = {
          write: (batch) => held.write(batch),
          linkedAnonymousIds: (userId) => held.linkedAnonymousIds(userId),
          forgetAnonymous: (anonymousIds) => held.forgetAnonymous(anonymousIds),
          async forget(userId) {
            if (down) throw new Error('sink unreachable')
            return held.forget(userId)
          },
        }
        const subject = await startEngineApp(engine, { events, sink })
        try {
          const { analytics, app, clock } = subject
          await viewedAndFlushed(subject, 'u-down')
          await expect(analytics.forgetUser('u-down')).rejects.toThrow('sink unreachable')
          expect(held.events).toHaveLength(1)
          down = false
          clock.advance(120_000)
          await app.resolve(JOBS).drain()
          expect(held.events).toEqual([])
          expect(await tablesHoldingUser(subject.db, 'u-down')).toEqual([])
        } finally {
          await subject.close()
        }
      })

      it('erases what another process wrote to the sink after the forget and its job ran, from a batch checked before it', async () => {
        const held = new MemoryEventSink()
        const subject = await startEngineApp(engine, { events, sink: held })
        // A second process of the app writing to the same store (a ClickHouse, say), its writes
        // held at a gate: checked against the suppressions before the forget, written after.
        const opened = signal()
        const arrived = signal()
        let gated = true
        const late: EventSink = {
          async write(batch) {
            if (gated) {
              arrived.fire()
              await opened.fired
            }
            return held.write(batch)
          },
          linkedAnonymousIds: (userId) => held.linkedAnonymousIds(userId),
          forget: (userId) => held.forget(userId),
          forgetAnonymous: (anonymousIds) => held.forgetAnonymous(anonymousIds),
        }
        const other = createTestApp({
          database: subject.url,
          clock: subject.clock,
          jobs: { workers: false },
          modules: [analyticsModule({ events, sink: late })],
        })
        await other.start()
        try {
          const { analytics, app, clock } = subject
          const elsewhere = other.resolve(ANALYTICS) as unknown as Analytics<typeof events>
          const cookie = { anonymousId: `c-late-${engine.engine}` }
          inRequest(app, { principal: { id: 'u-late' } }, () =>
            analytics.identify('u-late', undefined, cookie),
          )
          await analytics.flush()
          inRequest(other, { principal: { id: 'u-late' } }, () => {
            elsewhere.track('product_viewed', { productId: 'p-late' })
            // A failed event keeps its properties: it must go too.
            elsewhere.track('product_viewed', { productId: 7 as unknown as string })
          })
          inRequest(other, {}, () =>
            elsewhere.track('product_viewed', { productId: 'p-signed-out' }, cookie),
          )
          const flushed = elsewhere.flush()
          // That process checked its suppressions before this one forgot the user.
          await arrived.fired
          await analytics.forgetUser('u-late')
          // The recorded request has run too, and found nothing left.
          clock.advance(120_000)
          await app.resolve(JOBS).drain()
          expect(await app.resolve(JOBS).list({ name: 'analytics.forget' })).toEqual([])
          const before = elsewhere.stats()
          gated = false
          opened.fire()
          await flushed
          // Stored late, then erased: they count as skipped, not as stored.
          expectSkippedNotStored(before, elsewhere.stats(), 3)
          await app.resolve(JOBS).drain()
          expect(held.events).toEqual([])
          expect(held.failed).toEqual([])
          expect(held.links).toEqual([])
        } finally {
          await other.stop()
          await subject.close()
        }
      })

      it('refuses to forget through a sink that cannot, naming it, and erases nothing', async () => {
        class ArchiveSink implements EventSink {
          readonly held = new MemoryEventSink()
          write(batch: EventBatch) {
            return this.held.write(batch)
          }
        }
        const sink = new ArchiveSink()
        const subject = await startEngineApp(engine, { events, sink })
        try {
          const { analytics } = subject
          await viewedAndFlushed(subject, 'u-1')
          const refused = analytics.forgetUser('u-1')
          await expect(refused).rejects.toBeInstanceOf(AnalyticsForgetError)
          await expect(refused).rejects.toMatchObject({
            code: 'E_ANALYTICS_FORGET',
            sink: 'ArchiveSink',
          })
          expect(sink.held.events).toHaveLength(1)
        } finally {
          await subject.close()
        }
      })
    },
  )
}
