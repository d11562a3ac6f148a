import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'

const events = defineEvents({
  product_searched: z.object({ query: z.string(), note: z.string().optional() }),
})

// What COPY's text format, JSON, SQL and UTF-8 treat specially, and what PostgreSQL refuses
// (U+0000, unpaired surrogates), mixed with any code point.
const piece = fc.oneof(
  fc.constantFrom(
    '\t',
    '\n',
    '\r',
    '\\',
    '\\N',
    '\\.',
    '\\u0000',
    '"',
    "'",
    '\0',
    '\ud800',
    '\udc00',
    '🍵',
    'é',
    '\u2028',
    ',',
  ),
  fc.string({ unit: 'binary', maxLength: 3 }),
)
const hostile = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''))
const unstorable = (text: string) =>
  /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text)

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`Tracking hostile values on ${engine.title}`, () => {
    let subject: EngineApp<typeof events>
    beforeAll(async () => {
      subject = await startEngineApp(engine, { events, buffer: { batchSize: 50 } })
    })
    afterAll(() => subject?.close())

    it('stores every event exactly or keeps it as failed with the reason, and loses none of a batch', async () => {
      const { analytics, db } = subject
      let run = 0
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ query: hostile, user: fc.option(hostile, { nil: undefined }) }), {
            minLength: 1,
            maxLength: 20,
          }),
          async (tracked) => {
            const marker = `run-${++run}`
            for (const { query, user } of tracked) {
              analytics.track(
                'product_searched',
                { query, note: marker },
                user === undefined ? undefined : { userId: user },
              )
            }
            await analytics.flush()
            const stored = await db
              .selectFrom('mortar_analytics_event')
              .select(['properties', 'user_id'])
              .execute()
            const failed = await db
              .selectFrom('mortar_analytics_failed_event')
              .select(['properties', 'reason'])
              .execute()
            const ofRun = (properties: unknown) => {
              const value = (
                typeof properties === 'string' ? JSON.parse(properties) : properties
              ) as { query: string; note: string }
              return value.note === marker ? value : undefined
            }
            const storedNow = stored.flatMap((row) => {
              const value = ofRun(row.properties)
              return value === undefined ? [] : [{ query: value.query, user: row.user_id }]
            })
            const failedNow = failed.filter((row) => row.properties?.includes(`"${marker}"`))
            const storable = tracked.filter(
              ({ query, user }) =>
                !unstorable(query) && (user === undefined || (!unstorable(user) && user !== '')),
            )
            const sort = (list: { query: string; user: string | null }[]) =>
              [...list].sort((a, b) =>
                `${a.query}\u0001${a.user}` < `${b.query}\u0001${b.user}` ? -1 : 1,
              )
            expect(sort(storedNow)).toEqual(
              sort(storable.map(({ query, user }) => ({ query, user: user ?? null }))),
            )
            expect(failedNow).toHaveLength(tracked.length - storable.length)
            for (const row of failedNow) expect(row.reason).toMatch(/U\+0000|characters/)
          },
        ),
        { numRuns: 25 },
      )
    }, 120_000)
  })
}
