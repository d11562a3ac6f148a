import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { MAX_EVENT_BYTES, MAX_JSON_DEPTH } from '../storage/batch-limits.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  // Open-ended properties, as an app takes a client's filters or traits.
  free: z.record(z.string(), z.unknown()),
})

// Text JSON keeps, and what no engine stores: U+0000, unpaired surrogates.
const text = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.constantFrom('\0', '\ud800', '\udfff', 'a\udc00b', '🍵', '\\u0000', '"}]'),
)
// Keys JavaScript gives a meaning of its own.
const key = fc.oneof(
  text,
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', ''),
)
const scalar = fc.oneof(
  text,
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    2 ** 53 + 2,
    -(2 ** 63),
    1e21,
    1e308,
    -Number.MAX_VALUE,
    Number.MIN_VALUE,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ),
  fc.bigInt(),
  fc.date({ noInvalidDate: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant(Symbol('s')),
  fc.constant(() => 1),
)
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(key, tie('value'), { maxKeys: 3, noNullPrototype: false }),
  ),
}))
// Now and then a chain past the depth every engine's JSON functions read.
const deep = fc
  .tuple(fc.integer({ min: MAX_JSON_DEPTH - 3, max: MAX_JSON_DEPTH + 3 }), scalar)
  .map(([levels, inner]) => {
    let nested: unknown = inner
    for (let level = 0; level < levels; level++) nested = level % 2 ? [nested] : { k: nested }
    return nested
  })
const properties = fc.dictionary(key, fc.oneof({ weight: 5, arbitrary: value }, deep), {
  maxKeys: 4,
  noNullPrototype: false,
})

/**
 * Why the tracker must refuse `properties`, or undefined when it must store them: what JSON cannot
 * hold (a bigint), would store as something else without a word (NaN, the infinities, and an
 * undefined, a function or a symbol in an array: null; a key `__proto__`: the object's prototype
 * when read back), no engine stores (U+0000, an unpaired surrogate), or past the size and depth
 * limits. (-0 reads back as 0, JSON's one zero, and a date as its ISO text, its own toJSON.)
 */
function refusal(properties: Record<string, unknown>): string | undefined {
  let why: string | undefined
  const visit = (node: unknown, depth: number): void => {
    if (typeof node === 'bigint') why ??= 'bigint'
    else if (typeof node === 'number' && !Number.isFinite(node)) why ??= 'non-finite'
    else if (typeof node === 'string' && unstorable(node)) why ??= 'unstorable text'
    // A date is its ISO text in JSON.
    else if (typeof node === 'object' && node !== null && !(node instanceof Date)) {
      if (depth > MAX_JSON_DEPTH) why ??= 'too deep'
      for (const [name, field] of Object.entries(node)) {
        const dropped =
          field === undefined || typeof field === 'function' || typeof field === 'symbol'
        // JSON leaves such a field out, key and all (an optional field), and writes null for
        // such an element of an array.
        if (dropped && !Array.isArray(node)) continue
        if (dropped) why ??= 'null in an array'
        if (!Array.isArray(node) && name === '__proto__') why ??= '__proto__'
        if (!Array.isArray(node) && unstorable(name)) why ??= 'unstorable key'
        visit(field, depth + 1)
      }
    }
  }
  visit(properties, 1)
  if (why === undefined && JSON.stringify(properties).length > MAX_EVENT_BYTES) why = 'too long'
  return why
}

function unstorable(text: string): boolean {
  return /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)
}

/** JSON with every object's keys in order: PostgreSQL's jsonb keeps its own order. */
function canonical(json: unknown): string {
  return JSON.stringify(json, (_key, field: unknown) =>
    typeof field === 'object' && field !== null && !Array.isArray(field)
      ? Object.fromEntries(Object.entries(field).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : field,
  )
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`Open-ended event payloads on ${engine.title}`, () => {
    let subject: EngineApp<typeof events>
    beforeAll(async () => {
      subject = await startEngineApp(engine, { events, buffer: { batchSize: 50 } })
    })
    afterAll(() => subject?.close())

    it('stores what it accepts as its JSON reads back, refuses the rest with the reason, and writes each event once, in one table', async () => {
      const { analytics, db } = subject
      let run = 0
      await fc.assert(
        fc.asyncProperty(fc.array(properties, { minLength: 1, maxLength: 6 }), async (tracked) => {
          run++
          const user = (index: number) => `payload-${run}-${index}`
          const before = analytics.stats()
          // Never a throw into the caller, whatever the value.
          for (const [index, value] of tracked.entries()) {
            analytics.track('free', value, { userId: user(index) })
          }
          await analytics.flush()
          const prefix = `payload-${run}-%`
          const stored = await db
            .selectFrom('mortar_analytics_event')
            .select(['user_id', 'properties'])
            .where('user_id', 'like', prefix)
            .execute()
          const failed = await db
            .selectFrom('mortar_analytics_failed_event')
            .select(['user_id', 'reason'])
            .where('user_id', 'like', prefix)
            .execute()
          tracked.forEach((value, index) => {
            const mine = stored.filter((row) => row.user_id === user(index))
            const refused = failed.filter((row) => row.user_id === user(index))
            const why = refusal(value)
            if (why === undefined) {
              expect(refused, `refused: ${refused[0]?.reason}`).toEqual([])
              expect(mine).toHaveLength(1)
              const json = mine[0]?.properties
              const read = typeof json === 'string' ? JSON.parse(json) : json
              expect(canonical(read)).toBe(canonical(JSON.parse(JSON.stringify(value))))
            } else {
              expect(mine, `stored though ${why}`).toEqual([])
              expect(refused).toHaveLength(1)
              expect(refused[0]?.reason).toMatch(/\S/)
            }
          })
          const after = analytics.stats()
          expect(after.stored - before.stored).toBe(stored.length)
          expect(after.failed - before.failed).toBe(failed.length)
        }),
        { numRuns: 60 },
      )
    }, 120_000)
  })
}
