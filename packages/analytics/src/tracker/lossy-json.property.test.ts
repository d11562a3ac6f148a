import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  // Open-ended properties, as an app takes a client's filters or traits.
  free: z.record(z.string(), z.unknown()),
})

// Objects nested a few levels, their keys including JavaScript's own names, their values
// including NaN, the infinities, dates, undefined and null.
const properties = fc.object({
  key: fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', 'null')),
  values: [
    fc.double(),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: true }),
  ],
  maxDepth: 3,
})

/** Whether JSON would store `value` as something else: a NaN or an infinity, a key `__proto__`. */
function changedByJson(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value)
  if (typeof value !== 'object' || value === null || value instanceof Date) return false
  if (Array.isArray(value)) return value.some(changedByJson)
  return Object.entries(value).some(
    ([key, field]) => field !== undefined && (key === '__proto__' || changedByJson(field)),
  )
}

/** JSON with every object's keys in order: PostgreSQL's jsonb keeps its own order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) =>
    typeof field === 'object' && field !== null && !Array.isArray(field)
      ? Object.fromEntries(Object.entries(field).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : field,
  )
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `Properties JSON would change, ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>
      beforeAll(async () => {
        subject = await startEngineApp(engine, { events, buffer: { batchSize: 50 } })
      })
      afterAll(() => subject?.close())

      it('stores an event as its JSON reads back, or keeps it as failed: never a NaN as null, never without its __proto__ key', async () => {
        const { analytics, db } = subject
        let run = 0
        await fc.assert(
          fc.asyncProperty(
            fc.array(properties, { minLength: 1, maxLength: 8 }),
            async (tracked) => {
              const userId = `run-${++run}`
              for (const value of tracked) analytics.track('free', value, { userId })
              await analytics.flush()
              const stored = await db
                .selectFrom('mortar_analytics_event')
                .select('properties')
                .where('user_id', '=', userId)
                .execute()
              const failed = await db
                .selectFrom('mortar_analytics_failed_event')
                .select('reason')
                .where('user_id', '=', userId)
                .execute()
              const read = (json: unknown) => (typeof json === 'string' ? JSON.parse(json) : json)
              const sort = (list: unknown[]) => list.map(canonical).sort()
              const kept = tracked.filter((value) => !changedByJson(value))
              expect(sort(stored.map((row) => read(row.properties)))).toEqual(
                sort(kept.map((value) => JSON.parse(JSON.stringify(value)))),
              )
              expect(failed).toHaveLength(tracked.length - kept.length)
              for (const row of failed) expect(row.reason).toMatch(/__proto__|JSON would store/)
            },
          ),
          { numRuns: 20 },
        )
      }, 120_000)
    },
  )
}
