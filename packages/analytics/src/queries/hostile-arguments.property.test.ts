import { MortarError } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  order_completed: z.object({ productIds: z.array(z.union([z.string(), z.number()])) }),
})

// What plain JavaScript, a JSON body or a query string can pass where the types say string,
// string[] or number.
const odd = fc.oneof(
  fc.anything(),
  fc.constantFrom(
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    null,
    undefined,
    0,
    42,
    2 ** 60,
    7n,
    ['p-2'],
    { 'p-2': 1 },
    'p-2',
    'a\u0000b',
    'a\ud800',
  ),
)

/**
 * The value a call means by `value` in that place, or `undefined` when the call must refuse it
 * with a typed error (never an engine's own, never an answer made of nothing).
 */
const meant = {
  item: (value: unknown) =>
    typeof value === 'string'
      ? printable(value)
      : typeof value === 'number' && Number.isFinite(value)
        ? String(value)
        : undefined,
  userId: (value: unknown) =>
    typeof value === 'string'
      ? printable(value)
      : typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))
        ? String(value)
        : undefined,
  name: (value: unknown) => (typeof value === 'string' ? printable(value) : undefined),
}

/** Text that some stored value could hold: none holds U+0000 or an unpaired surrogate. */
function printable(text: string): string | undefined {
  return /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)
    ? undefined
    : text
}

type Call = (value: unknown) => {
  readonly odd: () => Promise<unknown>
  /** The call with the value it means, or `undefined` when it must be refused. */
  readonly meant: (() => Promise<unknown>) | undefined
}

/** The call with the text `value` means, if any. */
function as(
  text: string | undefined,
  call: (text: string) => Promise<unknown>,
): (() => Promise<unknown>) | undefined {
  return text === undefined ? undefined : () => call(text)
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `Query arguments past the types, ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>
      const from = new Date('2026-03-01T00:00:00Z')
      const to = new Date('2026-03-03T00:00:00Z')
      beforeAll(async () => {
        subject = await startEngineApp(engine, {
          events,
          recommendations: { bought: { event: 'order_completed', items: 'productIds' } },
        })
        const { analytics } = subject
        const baskets = [
          ['p-1', 'p-2', 'p-3', 42],
          ['p-1', 'p-2', 42],
          ['p-1', 'p-3', 42],
          ['p-1', 'p-2', 'p-3'],
        ]
        baskets.forEach((productIds, i) => {
          analytics.track('order_completed', { productIds }, { userId: `u${i}` })
        })
        analytics.track('order_completed', { productIds: ['p-1', 'p-2'] }, { userId: '42' })
        await analytics.flush()
        await analytics.rollup()
      })
      afterAll(() => subject?.close())

      it('refuses with a typed error, or answers as for the value it means', async () => {
        const { analytics } = subject
        const loose = analytics as unknown as {
          alsoBought(item: unknown, options?: unknown): Promise<unknown>
          uniques(events: unknown, options: unknown): Promise<unknown>
          series(event: unknown, options: unknown): Promise<unknown>
          top(event: unknown, key: unknown, options: unknown): Promise<unknown>
        }
        const calls: Record<string, Call> = {
          item: (value) => ({
            odd: () => loose.alsoBought(value, { minSupport: 1 }),
            meant: as(meant.item(value), (text) => analytics.alsoBought(text, { minSupport: 1 })),
          }),
          exclude: (value) => ({
            odd: () => loose.alsoBought('p-1', { minSupport: 1, exclude: ['p-3', value] }),
            meant: as(meant.item(value), (text) =>
              analytics.alsoBought('p-1', { minSupport: 1, exclude: ['p-3', text] }),
            ),
          }),
          excludeBoughtBy: (value) => ({
            odd: () => loose.alsoBought('p-1', { minSupport: 1, excludeBoughtBy: value }),
            // Left out, the option is not given.
            meant:
              value === undefined
                ? () => analytics.alsoBought('p-1', { minSupport: 1 })
                : as(meant.userId(value), (text) =>
                    analytics.alsoBought('p-1', { minSupport: 1, excludeBoughtBy: text }),
                  ),
          }),
          uniques: (value) => ({
            odd: () => loose.uniques(['order_completed', value], { from, to }),
            meant: as(meant.name(value), (text) =>
              loose.uniques(['order_completed', text], { from, to }),
            ),
          }),
          series: (value) => ({
            odd: () => loose.series(value, { from, to }),
            meant: as(meant.name(value), (text) => loose.series(text, { from, to })),
          }),
          topKey: (value) => ({
            odd: () => loose.top('order_completed', value, { from, to }),
            meant: as(meant.name(value), (text) =>
              loose.top('order_completed', text, { from, to }),
            ),
          }),
        }
        await fc.assert(
          fc.asyncProperty(fc.constantFrom(...Object.keys(calls)), odd, async (place, value) => {
            const call = (calls[place] as Call)(value)
            const outcome = await call.odd().then(
              (answer) => ({ answer }),
              (error: unknown) => ({ error }),
            )
            if (call.meant === undefined) {
              expect(outcome).toHaveProperty('error')
              const error = (outcome as { error: unknown }).error
              expect(error).toBeInstanceOf(MortarError)
              expect(['E_ANALYTICS_QUERY', 'E_ANALYTICS_IDENTITY']).toContain(
                (error as MortarError).code,
              )
            } else {
              expect(outcome).toEqual({ answer: await call.meant() })
            }
          }),
          { numRuns: 150 },
        )
      })

      it('refuses lists past their bounds with a typed error, never the driver’s', async () => {
        const { analytics } = subject
        const names = (n: number) => Array.from({ length: n }, (_, i) => `e${i}`)
        const steps = (n: number) => names(n).map((event) => ({ event })) as never
        // Past SQLite's and PostgreSQL's values per statement: the driver refused them its own way.
        for (const n of [1_001, 70_000]) {
          await expect(analytics.uniques(names(n) as never, { from, to })).rejects.toMatchObject({
            code: 'E_ANALYTICS_QUERY',
          })
          await expect(analytics.alsoBought('p-1', { exclude: names(n) })).rejects.toMatchObject({
            code: 'E_ANALYTICS_QUERY',
          })
        }
        const where = (n: number) => Object.fromEntries(names(n).map((key) => [key, 'x'])) as never
        for (const n of [101, 40_000]) {
          await expect(
            analytics.series('order_completed', { from, to, where: where(n) }),
          ).rejects.toMatchObject({ code: 'E_ANALYTICS_QUERY' })
          await expect(
            analytics.funnel([{ event: 'order_completed', where: where(n) }], {
              from,
              to,
              windowMs: 1,
            }),
          ).rejects.toMatchObject({ code: 'E_ANALYTICS_QUERY' })
        }
        const none = await analytics.series('order_completed', { from, to, where: where(100) })
        expect(none.reduce((sum, point) => sum + point.count, 0)).toBe(0)
        await expect(analytics.funnel(steps(21), { from, to, windowMs: 1 })).rejects.toMatchObject({
          code: 'E_ANALYTICS_QUERY',
        })
        expect(await analytics.uniques(names(1_000) as never, { from, to })).toBe(0)
        expect(await analytics.alsoBought('p-1', { exclude: names(1_000) })).toHaveLength(3)
        expect(await analytics.funnel(steps(20), { from, to, windowMs: 1 })).toHaveLength(20)
      })

      it('refuses a dwell limit that is no positive whole number', async () => {
        for (const limit of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY]) {
          await expect(subject.analytics.dwell({ from, to, limit })).rejects.toMatchObject({
            code: 'E_ANALYTICS_QUERY',
          })
        }
      })

      it('excludes what a numeric user id bought, and a numeric item', async () => {
        const { analytics } = subject
        const plain = await analytics.alsoBought('p-1', { minSupport: 1 })
        expect(plain.map((row) => row.item).sort()).toEqual(['42', 'p-2', 'p-3'])
        const loose = analytics.alsoBought as (item: unknown, options: unknown) => Promise<unknown>
        const read = (await loose.call(analytics, 'p-1', {
          minSupport: 1,
          exclude: [42],
          excludeBoughtBy: 42,
        })) as { item: string }[]
        expect(read.map((row) => row.item)).toEqual(['p-3'])
      })
    },
  )
}
