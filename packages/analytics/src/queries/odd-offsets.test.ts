import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'
import { localDay } from '../time/zoned-time.js'

const events = defineEvents({ viewed: z.object({ tag: z.string() }) })

// Zones whose offset was no whole number of quarter hours after 1970: Monrovia was UTC-0:44:30
// until 7 January 1972, Kiritimati UTC-10:40 until 1979. Their local midnights and hours fall
// inside a UTC quarter hour.
const ZONES = [
  { timeZone: 'Africa/Monrovia', from: Date.UTC(1972, 0, 4), to: Date.UTC(1972, 0, 10) },
  { timeZone: 'Pacific/Kiritimati', from: Date.UTC(1979, 8, 28), to: Date.UTC(1979, 9, 4) },
]

/** The local hour (`1972-01-05 13`) of `ms`, by the runtime's own time zone data: the oracle. */
function localHour(ms: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
  }).formatToParts(new Date(ms))
  const part = (type: string) => parts.find((p) => p.type === type)?.value
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}`
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `series in zones off the quarter hour, ${engine.title}`,
    () => {
      let subject: EngineApp<typeof events>
      const times: number[] = []

      beforeAll(async () => {
        subject = await startEngineApp(engine, { events, timeZone: 'UTC' })
        // Every 7 minutes 13 seconds over each span: some in the seconds after a local midnight
        // or hour, which a UTC quarter hour shares with the period before.
        for (const zone of ZONES) {
          for (let at = zone.from; at < zone.to; at += 433_000) times.push(at)
        }
        for (const at of times)
          subject.analytics.track('viewed', { tag: 'x' }, { userId: 'u1', timestamp: at })
        await subject.analytics.flush()
      })
      afterAll(() => subject?.close())

      for (const { timeZone, from, to } of ZONES) {
        it(`counts each event in its local day and hour in ${timeZone}`, async () => {
          const range = { from: new Date(from), to: new Date(to), timeZone }
          const inside = times.filter((at) => at >= from && at < to)
          for (const [interval, period] of [
            ['day', (ms: number) => localDay(ms, timeZone)],
            ['hour', (ms: number) => localHour(ms, timeZone)],
          ] as const) {
            const expected = new Map<string, number>()
            for (const at of inside) expected.set(period(at), (expected.get(period(at)) ?? 0) + 1)
            const series = await subject.analytics.series('viewed', { ...range, interval })
            const counted = new Map<string, number>()
            for (const point of series) {
              if (point.count > 0) counted.set(period(point.start.getTime()), point.count)
            }
            expect(counted, interval).toEqual(expected)
          }
        })
      }
    },
  )
}
