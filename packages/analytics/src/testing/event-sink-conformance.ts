import type { VitestApi } from '@mortar/core/testing'
import type {
  EventBatch,
  EventSink,
  FailedEvent,
  IdentityLink,
  StoredEvent,
} from '../sinks/event-sink.js'
import { uuidV7 } from '@mortar/core'

/** What a sink holds, read back by the setup so the kit can compare. */
export interface EventSinkContents {
  readonly events: readonly StoredEvent[]
  readonly failed: readonly FailedEvent[]
  readonly links: readonly IdentityLink[]
}

/** What a conformance setup returns: the sink, how to read it back, and how to release it. */
export interface EventSinkSubject {
  readonly sink: EventSink
  /** Everything stored so far (any order; properties as JSON text). */
  read(): Promise<EventSinkContents>
  /** Runs after the suite: drop the schema, close the client. */
  dispose?(): void | Promise<void>
}

/** Options of {@link eventSinkConformance}. */
export interface EventSinkConformanceOptions {
  /** Set to skip the suite with a one-line notice saying why (a server variable is unset). */
  readonly skip?: string | undefined
}

let sequence = 0

/** A valid stored event for tests, with a fresh id; fields may be overridden. */
export function makeStoredEvent(overrides: Partial<StoredEvent> = {}): StoredEvent {
  const occurredAt = overrides.occurredAt ?? Date.UTC(2026, 2, 1, 12) + ++sequence
  return {
    id: uuidV7(occurredAt),
    name: 'product_viewed',
    occurredAt,
    userId: `user-${sequence}`,
    anonymousId: null,
    sessionId: null,
    properties: JSON.stringify({ productId: `p-${sequence}` }),
    ip: null,
    userAgent: null,
    country: null,
    ...overrides,
  }
}

/** A batch id no other test uses. */
export function makeBatchId(): number {
  return Date.now() * 1_000 + (++sequence % 1_000)
}

/**
 * Registers vitest blocks that check an {@link EventSink} against the contract: every field
 * stored exactly (unicode, backslashes, tabs and newlines included), a batch written twice
 * stored once (also when the second write starts while the first still runs, as the buffer's
 * retry of a write past its deadline does), an event re-sent in another batch stored once, failed events and identity links
 * (the first link of an anonymous id wins), concurrent batches, large ones, and `forget` when
 * the sink has it (`forgetUser` refuses a sink without it): again after a late write, and with
 * `linkedAnonymousIds` and `forgetAnonymous` beside it. Every built-in
 * sink runs it; run it on yours (a ClickHouse sink, say). The first argument is vitest itself
 * (see `VitestApi` in `@mortar/core/testing`): the kit does not import it, so this entry loads
 * without vitest.
 *
 * @example
 * ```ts
 * import { eventSinkConformance } from '@mortar/analytics/testing'
 * import * as vitest from 'vitest'
 * import { ClickHouseSink } from './clickhouse-sink.js'
 *
 * eventSinkConformance(vitest, 'ClickHouseSink', async () => {
 *   const sink = await ClickHouseSink.connect(process.env.CLICKHOUSE_URL!)
 *   return { sink, read: () => sink.readAll(), dispose: () => sink.close() }
 * })
 * ```
 */
export function eventSinkConformance(
  vitest: VitestApi,
  name: string,
  setup: () => EventSinkSubject | Promise<EventSinkSubject>,
  options: EventSinkConformanceOptions = {},
): void {
  const { afterAll, beforeAll, describe, expect, it } = vitest
  const skip = options.skip
  if (skip !== undefined) console.info(`[skipped] ${name} event sink conformance: ${skip}`)
  // Skipped only when the caller's server is not configured (an unset variable): the reason is
  // printed above and shown in the title; .ci/run sets every variable, so CI runs it.
  const title = `${name} event sink conformance${skip === undefined ? '' : ` (skipped: ${skip})`}`
  describe.skipIf(skip !== undefined)(title, () => {
    let subject: EventSinkSubject | undefined
    const current = (): EventSinkSubject => {
      if (subject === undefined) throw new Error('The conformance setup did not finish.')
      return subject
    }
    const write = (batch: Partial<EventBatch>) =>
      current().sink.write({ id: makeBatchId(), events: [], failed: [], links: [], ...batch })
    const stored = async (ids: readonly string[]) => {
      const wanted = new Set(ids)
      return (await current().read()).events.filter((event) => wanted.has(event.id))
    }

    beforeAll(async () => {
      subject = await setup()
    })
    afterAll(async () => {
      await subject?.dispose?.()
    })

    it('stores every field of an event exactly, whatever characters it holds', async () => {
      const tricky = makeStoredEvent({
        name: 'search.done',
        userId: 'üser\twith\\tab',
        anonymousId: 'anon\nline',
        sessionId: 'sess\r"quoted"',
        ip: '2001:db8:85a3::',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64)\t"quoted"\\',
        country: 'FR',
        properties: JSON.stringify({
          query: 'a\\b\t"c"\n ünïcode 🍵',
          n: 1.5,
          nested: { x: [1, null] },
        }),
      })
      const plain = makeStoredEvent()
      await write({ events: [tricky, plain] })
      const found = await stored([tricky.id, plain.id])
      const byId = new Map(found.map((event) => [event.id, event]))
      for (const expected of [tricky, plain]) {
        const actual = byId.get(expected.id)
        expect(actual).toBeDefined()
        expect({ ...actual, properties: JSON.parse(actual!.properties) }).toEqual({
          ...expected,
          properties: JSON.parse(expected.properties),
        })
      }
    })

    it('stores a batch prepared ahead of its write exactly, and once when written twice', async () => {
      const events = [
        makeStoredEvent({
          userId: 'üser\twith\\tab',
          properties: JSON.stringify({ query: 'a\\b\t"c"\n🍵' }),
        }),
        makeStoredEvent({ anonymousId: 'anon\nline', sessionId: 'sess\r"quoted"', country: 'FR' }),
      ]
      const batch: EventBatch = { id: makeBatchId(), events, failed: [], links: [] }
      current().sink.prepare?.(batch)
      await current().sink.write(batch)
      await current().sink.write(batch)
      const found = await stored(events.map((event) => event.id))
      expect(found).toHaveLength(2)
      for (const expected of events) {
        const actual = found.find((event) => event.id === expected.id)
        expect({ ...actual, properties: JSON.parse(actual?.properties ?? 'null') }).toEqual({
          ...expected,
          properties: JSON.parse(expected.properties),
        })
      }
    })

    it('stores a batch once when it is written again while an earlier write of it still runs', async () => {
      // The buffer retries a write past its deadline without waiting for it: a sink that checks
      // what it holds, then stores, stored such a batch twice.
      const events = [makeStoredEvent(), makeStoredEvent(), makeStoredEvent()]
      const batch: EventBatch = { id: makeBatchId(), events, failed: [], links: [] }
      const writes = await Promise.allSettled([
        current().sink.write(batch),
        current().sink.write(batch),
        current().sink.write(batch),
      ])
      expect(writes.some((write) => write.status === 'fulfilled')).toBe(true)
      expect(await stored(events.map((event) => event.id))).toHaveLength(3)
    })

    it('stores a batch written twice once', async () => {
      const events = [makeStoredEvent(), makeStoredEvent(), makeStoredEvent()]
      const batch: EventBatch = { id: makeBatchId(), events, failed: [], links: [] }
      await current().sink.write(batch)
      await current().sink.write(batch)
      expect(await stored(events.map((event) => event.id))).toHaveLength(3)
    })

    it('stores an event re-sent in another batch once, and the new events beside it', async () => {
      const first = makeStoredEvent()
      const second = makeStoredEvent()
      await write({ events: [first] })
      await write({ events: [first, second] })
      expect(await stored([first.id, second.id])).toHaveLength(2)
    })

    it('stores failed events with their reason, once', async () => {
      const failed: FailedEvent = {
        id: uuidV7(Date.UTC(2026, 2, 1)),
        name: 'product_viewed',
        occurredAt: Date.UTC(2026, 2, 1),
        userId: 'u-failed',
        anonymousId: null,
        reason: 'Invalid properties: productId: expected string',
        properties: '{"productId":42}',
      }
      const batch: EventBatch = { id: makeBatchId(), events: [], failed: [failed], links: [] }
      await current().sink.write(batch)
      await current().sink.write(batch)
      const found = (await current().read()).failed.filter((f) => f.id === failed.id)
      expect(found).toEqual([failed])
    })

    it("keeps a failed event's name and ids whole, whatever no column holds, and forgets by the whole id", async () => {
      // Cut to 255 characters, or with a U+0000 or a lone surrogate replaced, two users' ids
      // were one: forgetting one erased the other's failed events.
      const head = `${makeBatchId()}-${'x'.repeat(255)}`.slice(0, 255)
      const failedEvent = (userId: string, anonymousId: string | null): FailedEvent => ({
        id: uuidV7(Date.UTC(2026, 2, 1)),
        name: `unknown-${'n'.repeat(300)}\u0000`,
        occurredAt: Date.UTC(2026, 2, 1),
        userId,
        anonymousId,
        reason: 'Unknown event',
        properties: '{}',
      })
      const atLimit = failedEvent(head, null)
      const longer = failedEvent(`${head}b`, `a\u0000${head}`)
      const unpaired = failedEvent(`${head.slice(0, 200)}\ud800`, '\udc00')
      // In id order: a sink reads back in any.
      const all = [atLimit, longer, unpaired].sort((a, b) => (a.id < b.id ? -1 : 1))
      await write({ failed: all })
      const ids = new Set(all.map((event) => event.id))
      const kept = async () =>
        (await current().read()).failed
          .filter((f) => ids.has(f.id))
          .sort((a, b) => (a.id < b.id ? -1 : 1))
      expect(await kept()).toEqual(all)
      const forget = current().sink.forget?.bind(current().sink)
      if (forget === undefined) return
      expect(await forget(head)).toMatchObject({ failedEvents: 1 })
      expect(await kept()).toEqual(all.filter((event) => event !== atLimit))
      expect(await forget(`${head}b`)).toMatchObject({ failedEvents: 1 })
      expect(await kept()).toEqual([unpaired])
    })

    it('keeps the first link of an anonymous id', async () => {
      const anonymousId = `anon-${makeBatchId()}`
      await write({ links: [{ anonymousId, userId: 'first', linkedAt: 1 }] })
      await write({ links: [{ anonymousId, userId: 'second', linkedAt: 2 }] })
      const links = (await current().read()).links.filter((l) => l.anonymousId === anonymousId)
      expect(links.map((l) => l.userId)).toEqual(['first'])
    })

    it('stores concurrent batches completely', async () => {
      const batches = Array.from({ length: 8 }, () =>
        Array.from({ length: 50 }, () => makeStoredEvent()),
      )
      await Promise.all(batches.map((events) => write({ events })))
      expect(await stored(batches.flat().map((event) => event.id))).toHaveLength(400)
    })

    it('stores a batch of 5,000 events', async () => {
      const events = Array.from({ length: 5_000 }, () => makeStoredEvent())
      await write({ events })
      expect(await stored(events.map((event) => event.id))).toHaveLength(5_000)
    })

    it("forgets a user: their events, failed events, links and linked anonymous events, not another's", async () => {
      const forget = current().sink.forget?.bind(current().sink)
      // A sink without forget makes forgetUser refuse (AnalyticsForgetError): nothing to check.
      if (forget === undefined) return
      const userId = `gone-${makeBatchId()}`
      const anonymousId = `anon-${makeBatchId()}`
      const theirs = [makeStoredEvent({ userId }), makeStoredEvent({ userId: null, anonymousId })]
      // Another user signed in on the same device: theirs stays.
      const kept = [makeStoredEvent({ userId: 'someone-else', anonymousId }), makeStoredEvent()]
      const failed: FailedEvent = {
        id: uuidV7(Date.UTC(2026, 2, 2)),
        name: 'product_viewed',
        occurredAt: Date.UTC(2026, 2, 2),
        userId,
        anonymousId: null,
        reason: 'Invalid properties',
        properties: '{}',
      }
      await write({
        events: [...theirs, ...kept],
        failed: [failed],
        links: [{ anonymousId, userId, linkedAt: 1 }],
      })
      const linked = current().sink.linkedAnonymousIds?.bind(current().sink)
      expect(linked, 'a sink with forget() needs linkedAnonymousIds()').toBeDefined()
      expect(await linked?.(userId)).toEqual([anonymousId])
      expect(await forget(userId)).toEqual({
        events: 2,
        failedEvents: 1,
        identityLinks: 1,
        anonymousIds: [anonymousId],
      })
      const after = await current().read()
      expect(await stored(kept.map((event) => event.id))).toHaveLength(2)
      expect(await stored(theirs.map((event) => event.id))).toEqual([])
      expect(after.failed.filter((f) => f.id === failed.id)).toEqual([])
      expect(after.links.filter((l) => l.anonymousId === anonymousId)).toEqual([])
      expect(await linked?.(userId)).toEqual([])
      expect(await forget(userId)).toEqual({
        events: 0,
        failedEvents: 0,
        identityLinks: 0,
        anonymousIds: [],
      })
    })

    it('forgets failed events as events: under the user id, and anonymous ones under an id linked to them', async () => {
      // A sink deleting failed events by user id alone kept what the user did signed out, under
      // their linked cookie, after forgetUser answered that they were forgotten.
      const forget = current().sink.forget?.bind(current().sink)
      if (forget === undefined) return
      const userId = `gone-${makeBatchId()}`
      const anonymousId = `anon-${makeBatchId()}`
      const failedEvent = (who: Pick<FailedEvent, 'userId' | 'anonymousId'>): FailedEvent => {
        const occurredAt = Date.UTC(2026, 2, 3) + (makeBatchId() % 1_000)
        return {
          id: uuidV7(occurredAt),
          name: 'product_viewed',
          occurredAt,
          reason: 'Invalid properties',
          properties: '{}',
          ...who,
        }
      }
      const theirs = [
        failedEvent({ userId, anonymousId: null }),
        failedEvent({ userId: null, anonymousId }),
      ]
      // Another user signed in on the same device: theirs stays.
      const kept = failedEvent({ userId: 'someone-else', anonymousId })
      await write({ failed: [...theirs, kept], links: [{ anonymousId, userId, linkedAt: 1 }] })
      expect(await forget(userId)).toMatchObject({ events: 0, failedEvents: 2 })
      const ids = new Set([...theirs, kept].map((event) => event.id))
      expect((await current().read()).failed.filter((f) => ids.has(f.id))).toEqual([kept])
    })

    it('forgets again what was written after a first forget: a batch checked before it, written late', async () => {
      // forgetUser's job calls forget again when a write stored a forgotten user's events after
      // the first call: a sink that remembers whom it forgot and skips them keeps those.
      const forget = current().sink.forget?.bind(current().sink)
      if (forget === undefined) return
      const userId = `gone-${makeBatchId()}`
      const anonymousId = `anon-${makeBatchId()}`
      await write({ events: [makeStoredEvent({ userId })] })
      await forget(userId)
      const late = [makeStoredEvent({ userId }), makeStoredEvent({ userId: null, anonymousId })]
      await write({ events: late, links: [{ anonymousId, userId, linkedAt: 1 }] })
      expect(await forget(userId)).toEqual({
        events: 2,
        failedEvents: 0,
        identityLinks: 1,
        anonymousIds: [anonymousId],
      })
      expect(await stored(late.map((event) => event.id))).toEqual([])
    })

    it('forgets the events with no user under anonymous ids no link names any more, not those signed in', async () => {
      const forget = current().sink.forget?.bind(current().sink)
      if (forget === undefined) return
      const forgetAnonymous = current().sink.forgetAnonymous?.bind(current().sink)
      expect(forgetAnonymous, 'a sink with forget() needs forgetAnonymous()').toBeDefined()
      const anonymousId = `anon-${makeBatchId()}`
      const theirs = makeStoredEvent({ userId: null, anonymousId })
      const failed: FailedEvent = {
        id: uuidV7(Date.UTC(2026, 2, 4)),
        name: 'product_viewed',
        occurredAt: Date.UTC(2026, 2, 4),
        userId: null,
        anonymousId,
        reason: 'Invalid properties',
        properties: '{}',
      }
      // Someone signed in on that device, and another device: both stay.
      const kept = [
        makeStoredEvent({ userId: 'someone-else', anonymousId }),
        makeStoredEvent({ userId: null, anonymousId: `anon-${makeBatchId()}` }),
      ]
      await write({ events: [theirs, ...kept], failed: [failed] })
      expect(await forgetAnonymous?.([anonymousId])).toEqual({ events: 1, failedEvents: 1 })
      expect(await stored([theirs.id])).toEqual([])
      expect(await stored(kept.map((event) => event.id))).toHaveLength(2)
      expect((await current().read()).failed.filter((f) => f.id === failed.id)).toEqual([])
      expect(await forgetAnonymous?.([anonymousId])).toEqual({ events: 0, failedEvents: 0 })
    })

    it('accepts an empty batch', async () => {
      // A sink may answer any write with a WriteOutcome; an empty one has nothing to leave out.
      const outcome = await write({})
      expect(outcome?.suppressed ?? { events: 0, failed: 0 }).toEqual({ events: 0, failed: 0 })
    })
  })
}
