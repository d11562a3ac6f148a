import { testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { ForgetTimeoutError, WriteTimeoutError } from '../../errors.js'
import { startBehindProxy } from '../../testing/engine-app.js'

const DAY_MS = 86_400_000

// Server engines only: a server that takes connections and queries and answers none. (SQLite is
// a file in the process; a sink that hangs in the process is hanging-sink.test.ts.)
for (const engine of testEngines().filter((e) => e.engine !== 'sqlite')) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(
    `the SQL sink on a database that stops answering, ${engine.title}`,
    () => {
      it('drops the batch after five writes past their deadline, times trackNow and forgetUser out, and stores each event once when the writes land', async () => {
        const subject = await startBehindProxy(engine, {
          writeTimeoutMs: 300,
          retryBaseMs: 1,
          retryMaxMs: 2,
        })
        const { analytics, proxy, reports } = subject
        try {
          // A connection in the pool before the stall, so that a write reaches the server.
          await analytics.trackNow('heartbeat', { n: 100 }, { userId: 'u-kept' })
          proxy.stall()
          for (let n = 0; n < 10; n++) {
            analytics.track('heartbeat', { n }, { userId: n % 2 === 1 ? 'u-gone' : 'u-kept' })
          }
          // Before the deadline, flush() and every event behind the batch waited for ever.
          await analytics.flush()
          expect(analytics.stats().dropped['write-failed']).toBe(10)
          await expect
            .poll(() => reports)
            .toContainEqual({ reason: 'write-failed', count: 10, total: 10 })
          await expect(
            analytics.trackNow('heartbeat', { n: 10 }, { userId: 'u-kept' }),
          ).rejects.toBeInstanceOf(WriteTimeoutError)
          // The writes left unanswered may yet store u-gone's events: no erasure reported done.
          await expect(analytics.forgetUser('u-gone', { timeoutMs: 300 })).rejects.toBeInstanceOf(
            ForgetTimeoutError,
          )

          // The server's answers arrive: every write runs, each event is stored once.
          proxy.answer()
          const all = [...Array.from({ length: 11 }, (_, n) => n), 100]
          await expect.poll(() => subject.storedNs(), { timeout: 30_000 }).toEqual(all)
          await expect.poll(() => analytics.stats().stored, { timeout: 30_000 }).toBe(12)
          const logged = await subject.batchSizes()
          expect(logged.reduce((sum, n) => sum + n, 0)).toBe(12)
          await analytics.rollup()
          const from = new Date(Math.floor(subject.clock.nowMs() / DAY_MS) * DAY_MS)
          const to = new Date(from.getTime() + DAY_MS)
          const total = async () =>
            (await analytics.series('heartbeat', { from, to })).reduce((s, p) => s + p.count, 0)
          expect(await total()).toBe(12)

          await expect(analytics.forgetUser('u-gone')).resolves.toMatchObject({ events: 5 })
          expect(await subject.storedNs()).toEqual([0, 2, 4, 6, 8, 10, 100])
          expect(await total()).toBe(7)
        } finally {
          proxy.answer()
          await subject.close()
        }
      }, 60_000)
    },
  )
}
