import { testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { startBehindProxy } from '../../testing/engine-app.js'

// PostgreSQL's batch of events is one query (COPY, then the log row): the log row's command
// tag is the last reply, sent once the query's implicit transaction has committed.
const postgres = testEngines().find((engine) => engine.engine === 'postgres')

// Skipped only when MORTAR_TEST_POSTGRES_URL is unset (the notice names it); .ci/run sets it.
describe.skipIf(postgres === undefined || postgres.skip !== undefined)(
  'a batch whose commit the tracker never heard of, PostgreSQL',
  () => {
    it('is written again on retry and stored once, nothing lost', async () => {
      const subject = await startBehindProxy(postgres!, {
        batchSize: 100,
        retryBaseMs: 10,
        retryMaxMs: 50,
      })
      try {
        const { analytics, proxy } = subject
        const cut = proxy.cutOnReply('INSERT 0 1')
        for (let n = 0; n < 250; n++) analytics.track('heartbeat', { n })
        await analytics.flush({ timeoutMs: 30_000 })
        await cut
        expect(await subject.storedNs()).toEqual(Array.from({ length: 250 }, (_, n) => n))
        expect(analytics.stats().stored).toBe(250)
        expect(subject.reports).toEqual([])
        expect(await subject.batchSizes()).toEqual([50, 100, 100])
      } finally {
        await subject.close()
      }
    }, 60_000)
  },
)
