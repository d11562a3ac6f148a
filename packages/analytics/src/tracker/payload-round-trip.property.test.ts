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
  // Schemas whose output JSON would change: a price text made a number, tags made a set.
  priced: z.object({ price: z.string().transform(Number) }),
  tagged: z.object({ tags: z.array(z.string()).transform((tags) => new Set(tags)) }),
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
  // What JSON writes as something else without a word: null for an invalid date (its toJSON)
  // and a boxed NaN, an object without its contents for a built-in that keeps them inside.
  fc.constantFrom(new Date(Number.NaN), Object(Number.NaN) as unknown, Object(2) as unknown),
  fc
    .constantFrom(
      () => new Map([['k', 1]]),
      () => new Set(['a']),
      () => new Error('boom'),
      () => /re/g,
      () => new Uint8Array([1, 2]),
      () => new ArrayBuffer(2),
      // Its own toJSON writes { type, data }: stored as that.
      () => Buffer.from('ab'),
    )
    .map((make) => make() as unknown),
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
const properties = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.dictionary(key, fc.oneof({ weight: 5, arbitrary: value }, deep), {
      maxKeys: 4,
      noNullPrototype: false,
    }),
  },
  // Now and then no object at all, or one JSON writes as an empty one.
  fc
    .constantFrom<() => unknown>(
      () => 5,
      () => 'text',
      () => [1, 2],
      () => new Date(0),
      () => new Map([['k', 1]]),
      () => new Set(['a']),
    )
    .map((make) => make() as Record<string, unknown>),
)

/**
 * Why the tracker must refuse `properties`, or undefined when it must store them: no object at
 * the top, what JSON cannot hold (a bigint), would store as something else without a word (NaN,
 * the infinities, an invalid date, and an undefined, a function or a symbol in an array: null;
 * a Map, a Set, an Error, a RegExp, a typed array: an object without its contents; a key
 * `__proto__`: the object's prototype when read back), no engine stores (U+0000, an unpaired
 * surrogate), or past the size and depth limits. (-0 reads back as 0, JSON's one zero, a date as
 * its ISO text and a Buffer as { type, data }, their own toJSON, a boxed number as itself.)
 */
function refusal(properties: Record<string, unknown>): string | undefined {
  if (!isJsonObject(properties)) return 'not an object'
  let why: string | undefined
  const visit = (node: unknown, depth: number): void => {
    if (typeof node === 'bigint') why ??= 'bigint'
    else if (typeof node === 'number' && !Number.isFinite(node)) why ??= 'non-finite'
    else if (typeof node === 'string' && unstorable(node)) why ??= 'unstorable text'
    else if (node instanceof Date) {
      if (Number.isNaN(node.getTime())) why ??= 'invalid date'
    } else if (node instanceof Number) {
      if (!Number.isFinite(node.valueOf())) why ??= 'boxed non-finite'
    } else if (Buffer.isBuffer(node)) {
      // { type, data }: its bytes as numbers, an array one level below the object.
      if (depth + 1 > MAX_JSON_DEPTH) why ??= 'too deep'
    } else if (
      node instanceof Map ||
      node instanceof Set ||
      node instanceof Error ||
      node instanceof RegExp ||
      node instanceof ArrayBuffer ||
      ArrayBuffer.isView(node)
    ) {
      why ??= 'built-in'
    } else if (typeof node === 'object' && node !== null) {
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

/** An object JSON writes as its fields: no array, date, Map or Set. */
function isJsonObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
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

    it("refuses a schema's output that JSON would store as something else, and stores the rest as it came out", async () => {
      const { analytics, db } = subject
      const before = analytics.stats()
      analytics.track('priced', { price: '12.5' }, { userId: 'output-1' })
      analytics.track('priced', { price: 'twelve' }, { userId: 'output-2' })
      analytics.track('tagged', { tags: ['a', 'b'] }, { userId: 'output-3' })
      await analytics.flush()
      const stored = await db
        .selectFrom('mortar_analytics_event')
        .select(['user_id', 'properties'])
        .where('user_id', 'like', 'output-%')
        .execute()
      expect(
        stored.map((row) => [
          row.user_id,
          typeof row.properties === 'string' ? JSON.parse(row.properties) : row.properties,
        ]),
      ).toEqual([['output-1', { price: 12.5 }]])
      const failed = await db
        .selectFrom('mortar_analytics_failed_event')
        .select(['user_id', 'reason'])
        .where('user_id', 'like', 'output-%')
        .orderBy('user_id')
        .execute()
      // Before, a NaN was stored as null and the set as {}, without a word.
      expect(failed).toEqual([
        {
          user_id: 'output-2',
          reason: "The schema's output: A property is NaN, which JSON would store as null.",
        },
        {
          user_id: 'output-3',
          reason:
            "The schema's output: A property is a Set, which JSON would store as an object without its contents.",
        },
      ])
      expect(analytics.stats().failed - before.failed).toBe(2)
    })
  })
}
