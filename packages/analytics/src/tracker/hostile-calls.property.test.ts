import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, inRequest, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  product_searched: z.object({ query: z.string() }),
  // An app's schema may throw from its own code instead of reporting an issue.
  nested: z.object({ query: z.string(), extra: z.unknown() }),
  checked: z.object({ n: z.number() }).transform((value) => {
    if (value.n < 0) throw new Error('negative')
    return value
  }),
})

// What plain JavaScript or a JSON body can pass where the types say string, Date or number.
const odd = fc.oneof(
  fc.anything(),
  fc.constantFrom(Number.NaN, -1, 1e20, new Date(Number.NaN), 5, 7n, ['a'], {}, null, '2020'),
)
const call = fc.oneof(
  fc.record({ kind: fc.constant('name' as const), value: odd }),
  fc.record({
    kind: fc.constantFrom('userId', 'anonymousId', 'sessionId', 'timestamp'),
    value: odd,
  }),
  fc.record({ kind: fc.constant('throwing-schema' as const), value: fc.integer() }),
)

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `Tracking calls past the types on ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>
      beforeAll(async () => {
        subject = await startEngineApp(engine, {
          events,
          buffer: { batchSize: 50 },
          counts: { nested: ['query'] },
        })
      })
      afterAll(() => subject?.close())

      it('never throws, and keeps every event stored or failed, the good ones of its batch stored', async () => {
        const { analytics, db } = subject
        const tracker = analytics as unknown as {
          track(name: unknown, properties: unknown, options?: unknown): unknown
        }
        let run = 0
        await fc.assert(
          fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 10 }), async (calls) => {
            const marker = `run-${++run}`
            const before = analytics.stats()
            for (const { kind, value } of calls) {
              expect(() => {
                if (kind === 'name') tracker.track(value, { query: marker })
                else if (kind === 'throwing-schema') tracker.track('checked', { n: value })
                else tracker.track('product_searched', { query: marker }, { [kind]: value })
                // A good event in the same batch as every odd one.
                analytics.track('product_searched', { query: marker })
              }).not.toThrow()
            }
            await analytics.flush()
            const after = analytics.stats()
            expect(after.dropped['write-failed']).toBe(before.dropped['write-failed'])
            expect(after.stored + after.failed - before.stored - before.failed).toBe(
              after.tracked - before.tracked,
            )
            const good = await db
              .selectFrom('mortar_analytics_event')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('properties', '=', JSON.stringify({ query: marker }))
              .executeTakeFirstOrThrow()
            expect(Number(good.n)).toBeGreaterThanOrEqual(calls.length)
          }),
          { numRuns: 30 },
        )
        // Thirty flushes: past vitest's 5 s default on SQLite when the machine is busy.
      }, 60_000)

      it('keeps properties nested deeper than every engine reads as failed, so rollups and queries still run', async () => {
        const { analytics, db } = subject
        const nest = (depth: number, inner: unknown): unknown =>
          depth === 0
            ? inner
            : depth % 2 === 0
              ? [nest(depth - 1, inner)]
              : { k: nest(depth - 1, inner) }
        let run = 0
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 6 }),
            async (depths) => {
              const marker = `nested-${++run}`
              const before = analytics.stats()
              // `extra` sits one level below the properties object.
              for (const depth of depths) {
                analytics.track('nested', { query: marker, extra: nest(depth, '"[{\\') })
              }
              await analytics.flush()
              const after = analytics.stats()
              const deep = depths.filter((depth) => depth + 1 > 31).length
              expect(after.failed - before.failed).toBe(deep)
              expect(after.stored - before.stored).toBe(depths.length - deep)
              await analytics.rollup()
              const range = {
                from: new Date('2026-03-01T00:00:00Z'),
                to: new Date('2026-03-03T00:00:00Z'),
              }
              const top = await analytics.top('nested', 'query', { ...range, limit: 100 })
              const count = top.find((entry) => entry.value === marker)?.count ?? 0
              expect(count).toBe(depths.length - deep)
            },
          ),
          { numRuns: 15 },
        )
        const reasons = await db
          .selectFrom('mortar_analytics_failed_event')
          .select('reason')
          .where('name', '=', 'nested')
          .execute()
        for (const { reason } of reasons) expect(reason).toMatch(/levels deep, over the 31/)
      }, 60_000)

      it('stores a numeric id as its digits and keeps an object id as failed, saying why', async () => {
        const { analytics, db } = subject
        const track = analytics.track as (
          name: string,
          properties: unknown,
          options: unknown,
        ) => void
        track.call(analytics, 'product_searched', { query: 'numeric-id' }, { userId: 42 })
        track.call(analytics, 'product_searched', { query: 'object-id' }, { userId: { id: 1 } })
        await analytics.flush()
        const stored = await db
          .selectFrom('mortar_analytics_event')
          .select('user_id')
          .where('properties', '=', JSON.stringify({ query: 'numeric-id' }))
          .execute()
        expect(stored).toEqual([{ user_id: '42' }])
        const failed = await db
          .selectFrom('mortar_analytics_failed_event')
          .select(['user_id', 'reason'])
          .where('properties', '=', JSON.stringify({ query: 'object-id' }))
          .execute()
        expect(failed).toEqual([
          { user_id: null, reason: 'The user id must be a string, not an object.' },
        ])
      })

      it('derives a user id from the principal and from the options by one rule: NaN, Infinity, fractions and numbers past 2^53 fail the event, never a bogus or merged user', async () => {
        const { analytics, app, db } = subject
        const track = analytics.track as (
          name: string,
          properties: unknown,
          options?: unknown,
        ) => void
        const id = fc.oneof(
          fc.double(),
          fc.maxSafeInteger(),
          fc.bigInt(),
          // 2^53 + 1 is already 2^53 here: two users would become one.
          fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, 2 ** 53 + 2, 1e21),
          fc.constantFrom('9007199254740993', 'u-1'),
        )
        let run = 0
        await fc.assert(
          fc.asyncProperty(fc.array(id, { minLength: 1, maxLength: 8 }), async (ids) => {
            const marker = `id-run-${++run}`
            ids.forEach((value, index) => {
              const principal = { id: value } as unknown as { id: string }
              inRequest(app, { principal }, () =>
                analytics.track('product_searched', { query: `${marker}-principal-${index}` }),
              )
              track.call(
                analytics,
                'product_searched',
                { query: `${marker}-options-${index}` },
                {
                  userId: value,
                },
              )
            })
            await analytics.flush()
            const outcome = async (
              table: 'mortar_analytics_event' | 'mortar_analytics_failed_event',
            ) => {
              const rows = await db.selectFrom(table).select(['user_id', 'properties']).execute()
              const byQuery = new Map<string, string | null>()
              for (const row of rows) {
                const text =
                  typeof row.properties === 'string'
                    ? row.properties
                    : JSON.stringify(row.properties)
                const query = (JSON.parse(text) as { query?: unknown }).query
                if (typeof query === 'string' && query.startsWith(`${marker}-`)) {
                  byQuery.set(query, row.user_id)
                }
              }
              return byQuery
            }
            const stored = await outcome('mortar_analytics_event')
            const failed = await outcome('mortar_analytics_failed_event')
            ids.forEach((value, index) => {
              const usable =
                typeof value === 'string' ||
                typeof value === 'bigint' ||
                Number.isSafeInteger(value)
              for (const path of ['principal', 'options']) {
                const query = `${marker}-${path}-${index}`
                if (usable) {
                  expect(stored.get(query), query).toBe(String(value))
                } else {
                  expect(stored.has(query), query).toBe(false)
                  expect(failed.get(query), query).toBeNull()
                }
              }
            })
          }),
          { numRuns: 15 },
        )
        const reasons = await db
          .selectFrom('mortar_analytics_failed_event')
          .select('reason')
          .execute()
        expect(reasons.some(({ reason }) => reason.includes('The principal id must be'))).toBe(true)
      }, 60_000)
    },
  )
}
