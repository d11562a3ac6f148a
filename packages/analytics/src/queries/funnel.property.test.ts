import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { clearEvents, type EngineApp, startEngineApp, storedEvents } from '../testing/engine-app.js'

const events = defineEvents({
  a: z.object({ tag: z.string() }),
  b: z.object({ tag: z.string() }),
  c: z.object({ tag: z.string() }),
})
type Name = keyof typeof events

const MINUTE = 60_000
const START = Date.UTC(2026, 2, 2, 9)

/**
 * The funnel's documented semantics as a plain fold over the events in `(time, id)` order: a
 * person reaches step k after steps 1..k in that order (each strictly after the previous), step
 * 1 inside the range and step k at most `windowMs` after it. Per person and step it keeps the
 * latest step-1 time from which the step was reached.
 */
function modelFunnel(
  rows: readonly { readonly at: number; readonly actor: string; readonly matches: number[] }[],
  steps: number,
  range: { readonly from: number; readonly to: number },
  windowMs: number,
): number[] {
  const best = new Map<string, number[]>()
  for (const row of rows) {
    const starts = best.get(row.actor) ?? new Array<number>(steps).fill(-1)
    best.set(row.actor, starts)
    // Later steps first: one event never serves as two consecutive steps.
    for (const step of [...row.matches].reverse()) {
      if (step === 0) {
        if (row.at >= range.from && row.at < range.to) starts[0] = row.at
        continue
      }
      const start = starts[step - 1] as number
      if (start >= 0 && row.at - start <= windowMs && start > (starts[step] as number))
        starts[step] = start
    }
  }
  return Array.from(
    { length: steps },
    (_, k) => [...best.values()].filter((starts) => (starts[k] as number) >= 0).length,
  )
}

const arbitraryEvent = fc.record({
  name: fc.constantFrom<Name>('a', 'b', 'c'),
  tag: fc.constantFrom('x', 'y'),
  who: fc.constantFrom('u1', 'u2', 'u3', 'anonymous', 'nobody'),
  // Whole minutes: many events share a millisecond, so the id decides their order.
  minute: fc.integer({ min: 0, max: 30 }),
})

const arbitraryStep = fc.record({
  event: fc.constantFrom<Name>('a', 'b', 'c'),
  tag: fc.constantFrom<string | undefined>('x', 'y', undefined),
})

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`funnel, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events })
    })
    afterAll(() => subject?.close())

    it('counts what the per-person fold counts over the same events, ties and repeats included', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(arbitraryEvent, { maxLength: 60 }),
          fc.array(arbitraryStep, { minLength: 1, maxLength: 4 }),
          fc.integer({ min: 0, max: 20 }),
          fc.integer({ min: 1, max: 20 }),
          fc.integer({ min: 1, max: 15 }),
          async (tracked, steps, fromMinute, minutes, windowMinutes) => {
            await clearEvents(subject.db)
            for (const event of tracked) {
              subject.analytics.track(
                event.name,
                { tag: event.tag },
                {
                  timestamp: START + event.minute * MINUTE,
                  ...(event.who === 'nobody'
                    ? {}
                    : event.who === 'anonymous'
                      ? { anonymousId: 'a1' }
                      : { userId: event.who }),
                },
              )
            }
            await subject.analytics.flush()
            const range = {
              from: START + fromMinute * MINUTE,
              to: START + (fromMinute + minutes) * MINUTE,
            }
            // Half a millisecond over: times are whole milliseconds, the bound is the same.
            const windowMs = windowMinutes * MINUTE + 0.5
            const rows = (await storedEvents(subject.db)).flatMap((row) => {
              const actor = row.userId ?? row.anonymousId
              if (actor === null) return []
              const matches = steps.flatMap((step, k) =>
                step.event === row.name &&
                (step.tag === undefined || step.tag === row.properties.tag)
                  ? [k]
                  : [],
              )
              return [{ at: row.at, actor, matches }]
            })
            const answer = await subject.analytics.funnel(
              steps.map((step) => ({
                event: step.event,
                ...(step.tag === undefined ? {} : { where: { tag: step.tag } }),
              })) as never,
              { from: new Date(range.from), to: new Date(range.to), windowMs },
            )
            expect(answer.map((step) => step.count)).toEqual(
              modelFunnel(rows, steps.length, range, windowMs),
            )
          },
        ),
        { numRuns: 60 },
      )
    }, 120_000)
  })
}
