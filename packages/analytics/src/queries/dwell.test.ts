import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defineEvents } from '../catalog/define-events.js'
import { type EngineApp, startEngineApp } from '../testing/engine-app.js'
import { rowCountingQueries } from '../testing/row-counting-queries.js'
import type { PageDwell } from './analytics-queries.js'

const events = defineEvents({})
const INTERVAL = 15_000
const FROM = Date.UTC(2026, 2, 2)
const TO = FROM + 3_600_000

type Beacon =
  | { readonly kind: 'beat'; readonly view: string; readonly at: number; readonly seq: number }
  | { readonly kind: 'leave'; readonly view: string; readonly at: number }

/**
 * The dwell model as an in-process fold over a whole history (what dwell() computed before it
 * ran in the database): the answer the SQL must give.
 */
function expected(
  views: readonly { id: string; path: string; at: number }[],
  beacons: readonly Beacon[],
): PageDwell[] {
  const byPath = new Map<string, { views: number; engagedMs: number }>()
  for (const view of views) {
    if (view.at < FROM || view.at >= TO) continue
    const own = beacons.filter(
      (b) => b.view === view.id && b.at >= view.at && b.at < TO + 6 * 3_600_000,
    )
    const beats = own.filter((b) => b.kind === 'beat')
    const last = Math.max(view.at, ...beats.map((b) => b.at))
    const seqs = new Set(beats.map((b) => (b.kind === 'beat' ? b.seq : 0))).size
    let engaged = Math.min(seqs, Math.ceil((last - view.at) / INTERVAL)) * INTERVAL
    const leaves = own.filter((b) => b.kind === 'leave').map((b) => b.at)
    if (leaves.length > 0) engaged += Math.min(Math.max(0, Math.min(...leaves) - last), INTERVAL)
    const entry = byPath.get(view.path) ?? { views: 0, engagedMs: 0 }
    entry.views++
    entry.engagedMs += engaged
    byPath.set(view.path, entry)
  }
  return [...byPath]
    .map(([path, { views, engagedMs }]) => ({
      path,
      views,
      engagedMs,
      averageMs: Math.round(engagedMs / views),
    }))
    .sort((a, b) => b.engagedMs - a.engagedMs || (a.path < b.path ? -1 : 1))
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`dwell, ${engine.title}`, () => {
    let subject: EngineApp<typeof events>
    const views: { id: string; path: string; at: number }[] = []
    const beacons: Beacon[] = []

    beforeAll(async () => {
      subject = await startEngineApp(engine, { events, timeZone: 'UTC' })
      const { analytics } = subject
      const track = (
        analytics.track as (name: string, properties: object, options: object) => void
      ).bind(analytics)
      // A seeded history: views on paths differing only in case, before, in and after the
      // range; resent and flooded sequence numbers, beats before their view, late leaves.
      let seed = 7
      const next = (n: number) => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
        return seed % n
      }
      const paths = ['/A', '/a', '/b', '/c/é', '/c/z']
      for (let i = 0; i < 60; i++) {
        const at = FROM - 600_000 + next(4_800) * 1_000
        const path = paths[next(paths.length)] as string
        const id = analytics.page({ path }, { timestamp: at, userId: 'u1' })
        views.push({ id, path, at })
        const beats = next(6)
        for (let k = 0; k < beats; k++) {
          const beat = {
            kind: 'beat' as const,
            view: id,
            at: at + (next(3) === 0 ? -1 : 1) + k * next(INTERVAL * 2),
            seq: next(4) === 0 ? 1 : k + 1 + next(20),
          }
          beacons.push(beat)
          track(
            '$heartbeat',
            { pageViewId: id, seq: beat.seq },
            { timestamp: beat.at, userId: 'u1' },
          )
        }
        for (let k = next(3); k > 0; k--) {
          const leave = { kind: 'leave' as const, view: id, at: at + next(INTERVAL * 6) - 1_000 }
          beacons.push(leave)
          track('$page_leave', { pageViewId: id }, { timestamp: leave.at, userId: 'u1' })
        }
      }
      await analytics.flush()
    })
    afterAll(() => subject?.close())

    it('answers from per-path rows, never reading the events into the process', async () => {
      // Rows each statement returns: bounded by the answer (the paths), not the events.
      const { queries, returned } = rowCountingQueries(subject, engine, events, INTERVAL)
      const want = expected(views, beacons)
      expect(want.length).toBe(5)
      expect(beacons.length).toBeGreaterThan(100)
      expect(await queries.dwell({ from: new Date(FROM), to: new Date(TO) })).toEqual(want)
      expect(await queries.dwell({ from: new Date(FROM), to: new Date(TO), limit: 2 })).toEqual(
        want.slice(0, 2),
      )
      expect(returned.length).toBeGreaterThan(0)
      expect(Math.max(...returned)).toBeLessThanOrEqual(want.length)
      // The limit bounds the answer, so it is bounded too.
      expect(await queries.dwell({ from: new Date(FROM), to: new Date(TO), limit: 1_000 })).toEqual(
        want,
      )
      await expect(
        queries.dwell({ from: new Date(FROM), to: new Date(TO), limit: 1_001 }),
      ).rejects.toMatchObject({ code: 'E_ANALYTICS_QUERY' })
    })
  })
}
