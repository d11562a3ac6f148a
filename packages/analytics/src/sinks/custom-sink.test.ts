import { createTestApp } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ANALYTICS, type Analytics } from '../analytics/analytics.js'
import { type AnalyticsModuleOptions, analyticsModule } from '../analytics/analytics-module.js'
import { defineEvents } from '../catalog/define-events.js'
import type { DropReport } from '../tracker/index.js'
import type { EventBatch, EventSink } from './event-sink.js'

const events = defineEvents({ viewed: z.object({ n: z.int() }) })

/** An app on SQLite whose analytics writes to the app's own sink, and the drops it reported. */
async function started(options: Omit<AnalyticsModuleOptions<typeof events>, 'events' | 'onDrop'>) {
  const reports: DropReport[] = []
  const app = createTestApp({
    database: 'sqlite::memory:',
    jobs: { workers: false },
    modules: [analyticsModule({ events, ...options, onDrop: (report) => reports.push(report) })],
  })
  await app.migrate()
  await app.start()
  return { app, reports }
}

describe('a sink of the app', () => {
  it('whose isTransient throws: the failed batch is retried and then reported dropped, never left unsettled', async () => {
    const stored: number[] = []
    let refusals = 2
    // A ClickHouse sink, say, whose classifier reads a field the error at hand does not have.
    const sink: EventSink = {
      async write(batch: EventBatch) {
        if (refusals-- > 0) throw new TypeError('fetch failed')
        for (const event of batch.events)
          stored.push((JSON.parse(event.properties) as { n: number }).n)
      },
      isTransient(error) {
        return (error as { code: string }).code.startsWith('08')
      },
    }
    const { app, reports } = await started({
      sink,
      buffer: { retryBaseMs: 1, retryMaxMs: 2 },
    })
    try {
      const analytics = app.resolve(ANALYTICS) as unknown as Analytics<typeof events>
      analytics.track('viewed', { n: 1 })
      await analytics.flush({ timeoutMs: 10_000 })
      // Taken as permanent: retried (the third attempt is taken), nothing reported lost.
      expect(stored).toEqual([1])
      expect(analytics.stats()).toMatchObject({ stored: 1, buffered: 0 })
      refusals = Number.POSITIVE_INFINITY
      analytics.track('viewed', { n: 2 })
      await analytics.flush({ timeoutMs: 10_000 })
      expect(analytics.stats().dropped['write-failed']).toBe(1)
      await new Promise((resolve) => setImmediate(resolve))
      expect(reports).toEqual([{ reason: 'write-failed', count: 1, total: 1 }])
    } finally {
      await app.stop()
    }
  })

  it('that hangs: app.stop() reports the batch it was writing as dropped, the process may end with it unwritten', async () => {
    let arrived = () => {}
    const writing = new Promise<void>((resolve) => {
      arrived = resolve
    })
    // A store whose connection black-holed: the write never answers.
    const sink: EventSink = {
      write() {
        arrived()
        return new Promise(() => {})
      },
    }
    const { app, reports } = await started({ sink, flushOnStopMs: 50 })
    const analytics = app.resolve(ANALYTICS) as unknown as Analytics<typeof events>
    for (let n = 0; n < 3; n++) analytics.track('viewed', { n })
    void analytics.flush()
    await writing
    await app.stop()
    expect(analytics.stats()).toMatchObject({ stored: 0, buffered: 0, dropped: { shutdown: 3 } })
    expect(reports).toEqual([{ reason: 'shutdown', count: 3, total: 3 }])
  })
})
