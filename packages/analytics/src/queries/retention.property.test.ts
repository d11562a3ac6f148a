import { testEngines } from '@mortar/core/testing'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { clearEvents, type EngineApp, startEngineApp, storedEvents } from '../testing/engine-app.js'
import { rowCountingQueries } from '../testing/row-counting-queries.js'
import { nextStart, periodBounds } from '../time/zoned-time.js'

const events = defineEvents({
  a: z.object({ tag: z.string() }),
  b: z.object({ tag: z.string() }),
})
type Name = keyof typeof events

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

// Three weeks around an offset change each: Paris springs forward, Havana skips a midnight,
// Samoa skipped a whole day (30 December 2011), Lord Howe moves half an hour, New York falls back.
const SCENES = [
  { timeZone: 'Europe/Paris', start: Date.UTC(2026, 2, 20) },
  { timeZone: 'America/Havana', start: Date.UTC(2026, 2, 1) },
  { timeZone: 'Pacific/Apia', start: Date.UTC(2011, 11, 20) },
  { timeZone: 'Australia/Lord_Howe', start: Date.UTC(2026, 8, 27) },
  { timeZone: 'America/New_York', start: Date.UTC(2026, 9, 24) },
] as const

interface Row {
  readonly at: number
  readonly actor: string
  readonly cohort: boolean
  readonly returning: boolean
}

/**
 * Retention as documented, a plain fold over the events in `(time, id)` order: a person's cohort
 * is the local period of their first cohort event in `[from, to)`; they returned in the k-th
 * period after it when a returning event came after that cohort event, in that period.
 */
function modelRetention(
  rows: readonly Row[],
  bounds: readonly number[],
  cohorts: number,
  periods: number,
  range: { readonly from: number; readonly to: number },
): { size: number; returned: number[] }[] {
  const periodOf = (at: number) => bounds.findLastIndex((start) => start <= at)
  const people = new Map<string, { at: number; period: number; returned: Set<number> }>()
  for (const row of rows) {
    const person = people.get(row.actor)
    if (row.returning && person !== undefined && row.at > person.at) {
      const k = periodOf(row.at) - person.period
      if (k >= 1 && k <= periods) person.returned.add(k)
    }
    if (row.cohort && person === undefined && row.at >= range.from && row.at < range.to)
      people.set(row.actor, { at: row.at, period: periodOf(row.at), returned: new Set() })
  }
  const answer = Array.from({ length: cohorts }, () => ({
    size: 0,
    returned: new Array<number>(periods + 1).fill(0),
  }))
  for (const person of people.values()) {
    const cohort = answer[person.period] as { size: number; returned: number[] }
    cohort.size++
    for (const k of [0, ...person.returned]) cohort.returned[k] = (cohort.returned[k] as number) + 1
  }
  return answer
}

const arbitraryEvent = fc.record({
  name: fc.constantFrom<Name>('a', 'b'),
  tag: fc.constantFrom('x', 'y'),
  who: fc.constantFrom('u1', 'u2', 'u3', 'a1', 'a2', 'nobody'),
  // Half hours over three weeks, some sharing a millisecond.
  halfHour: fc.integer({ min: 0, max: 21 * 48 }),
})

const arbitraryStep = fc.record({
  event: fc.constantFrom<Name>('a', 'b'),
  tag: fc.constantFrom<string | undefined>('x', 'y', undefined),
})

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`retention, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events })
      // a2's events are u3's; a1 stays anonymous.
      subject.analytics.identify('u3', {}, { anonymousId: 'a2' })
      await subject.analytics.flush()
    })
    afterAll(() => subject?.close())

    // Computed in SQL, only the answer's rows come back: at most one per cohort and period (and
    // a skipped day). Reading the cohort's events into the process returned every one of them.
    it('counts what the per-person fold counts, in local days and weeks across offset changes, reading only the answer', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...SCENES),
          fc.array(arbitraryEvent, { maxLength: 80 }),
          arbitraryStep,
          arbitraryStep,
          fc.constantFrom<'day' | 'week'>('day', 'week'),
          fc.integer({ min: 1, max: 3 }),
          fc.integer({ min: 0, max: 10 * 48 }),
          fc.integer({ min: 1, max: 10 * 48 }),
          async (scene, tracked, cohortStep, returningStep, period, periods, fromHalf, halves) => {
            await clearEvents(subject.db)
            for (const event of tracked) {
              subject.analytics.track(
                event.name,
                { tag: event.tag },
                {
                  timestamp: scene.start + event.halfHour * 30 * MINUTE,
                  ...(event.who === 'nobody'
                    ? {}
                    : event.who.startsWith('a')
                      ? { anonymousId: event.who }
                      : { userId: event.who }),
                },
              )
            }
            await subject.analytics.flush()
            // Ranges start and end off the hour too (a quarter past).
            const from = scene.start + fromHalf * 30 * MINUTE + 15 * MINUTE
            const range = { from, to: from + halves * 30 * MINUTE }
            const matches = (step: { event: Name; tag?: string }, name: string, tag: unknown) =>
              step.event === name && (step.tag === undefined || step.tag === tag)
            const rows = (await storedEvents(subject.db)).flatMap((row) => {
              const actor = row.userId ?? (row.anonymousId === 'a2' ? 'u3' : row.anonymousId)
              if (actor === null) return []
              const { tag } = row.properties
              return [
                {
                  at: row.at,
                  actor,
                  cohort: matches(cohortStep, row.name, tag),
                  returning: matches(returningStep, row.name, tag),
                },
              ]
            })
            const bounds = periodBounds(period, range.from, range.to, scene.timeZone)
            const cohorts = bounds.length - 1
            for (let i = 0; i < periods; i++)
              bounds.push(nextStart(period, bounds.at(-1) as number, scene.timeZone))
            const step = (s: { event: Name; tag?: string }) => ({
              event: s.event,
              ...(s.tag === undefined ? {} : { where: { tag: s.tag } }),
            })
            const { queries, returned } = rowCountingQueries(subject, engine, events, 15_000)
            const answer = await queries.retention({
              cohort: step(cohortStep),
              returning: step(returningStep),
              from: new Date(range.from),
              to: new Date(range.to),
              period,
              periods,
              timeZone: scene.timeZone,
            })
            expect(answer.map((cohort) => cohort.start.getTime())).toEqual(bounds.slice(0, cohorts))
            expect(answer.map(({ size, returned }) => ({ size, returned }))).toEqual(
              modelRetention(rows, bounds, cohorts, periods, range),
            )
            expect(Math.max(0, ...returned)).toBeLessThanOrEqual(cohorts * (periods + 2))
          },
        ),
        { numRuns: 50 },
      )
    }, 180_000)

    it('returns only the answer however many events the cohort holds', async () => {
      await clearEvents(subject.db)
      const start = Date.UTC(2026, 2, 2)
      for (let person = 0; person < 40; person++) {
        for (let day = 0; day < 3; day++) {
          subject.analytics.track(
            'a',
            { tag: 'x' },
            { userId: `p${person}`, timestamp: start + day * DAY + person * MINUTE },
          )
        }
      }
      await subject.analytics.flush()
      const { queries, returned } = rowCountingQueries(subject, engine, events, 15_000)
      const answer = await queries.retention({
        cohort: { event: 'a' },
        returning: { event: 'a' },
        from: new Date(start),
        to: new Date(start + DAY),
        periods: 2,
      })
      expect(answer).toEqual([{ start: new Date(start), size: 40, returned: [40, 40, 40] }])
      // One row per period of the one cohort (MariaDB streams one row at a time): 120 events were
      // read before.
      expect(Math.max(...returned)).toBeLessThanOrEqual(3)
    })
  })
}
