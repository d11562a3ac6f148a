import { testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { startBehindProxy } from '../testing/engine-app.js'

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// Server engines only: an outage is a server going away. (SQLite is a file in the process.)
for (const engine of testEngines().filter((e) => e.engine !== 'sqlite')) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `a database outage under steady tracking, ${engine.title}`,
    () => {
      // The outage is 30 s; 10 s proves the same here: with retryMaxMs 500 the backoff
      // is at its ceiling after about a second, so the rest of the outage is more of the same
      // capped, jittered retries (about 20 in 10 s, 60 in 30 s), while 2,000 events pile up
      // in the buffer. CI keeps the 40 s.
      const outageMs = 10_000

      async function run(capacity: number, downMs: number) {
        const subject = await startBehindProxy(engine, {
          capacity,
          batchSize: 100,
          maxAgeMs: 50,
          retryMaxMs: 500,
        })
        const { analytics, proxy, reports } = subject
        let n = 0
        // About 200 events a second, every one with a distinct n.
        const ticker = setInterval(() => {
          for (let i = 0; i < 2; i++) analytics.track('heartbeat', { n: n++ })
        }, 10)
        let duringOutage = 0
        try {
          await sleep(500)
          await proxy.cut()
          const before = n
          await sleep(downMs)
          duringOutage = n - before
          await proxy.start()
          await sleep(500)
        } finally {
          clearInterval(ticker)
        }
        await analytics.flush({ timeoutMs: 30_000 })
        await sleep(10) // the drop report of the last tick
        const storedNs = await subject.storedNs()
        const reported = reports.reduce((sum, report) => sum + report.count, 0)
        await subject.close()
        return {
          tracked: n,
          duringOutage,
          stored: new Set(storedNs),
          storedRows: storedNs.length,
          reported,
          stats: analytics.stats(),
        }
      }

      it(
        `keeps every event through ${outageMs / 1_000} s down when they fit the buffer`,
        async () => {
          const result = await run(20_000, outageMs)
          expect(result.stats.stored).toBe(result.tracked)
          expect(result.storedRows).toBe(result.tracked)
          expect(result.stored.size).toBe(result.tracked)
          expect(result.reported).toBe(0)
          expect(result.duringOutage).toBeGreaterThan(0)
        },
        outageMs + 60_000,
      )

      it('reports every event it drops once the buffer is full, and stores the rest once', async () => {
        const result = await run(300, 5_000)
        expect(result.reported).toBeGreaterThan(0)
        expect(result.reported).toBe(result.stats.dropped.overflow)
        expect(result.storedRows).toBe(result.stored.size)
        expect(result.storedRows + result.reported).toBe(result.tracked)
      }, 60_000)
    },
  )
}
