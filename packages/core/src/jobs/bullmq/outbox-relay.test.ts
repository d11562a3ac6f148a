import { describe, expect, it } from 'vitest'
import { createLogger } from '../../logger/create-logger.js'
import { testEngines } from '../../testing/index.js'
import type { NewJob } from '../queue-adapter.js'
import { SqlQueue } from '../sql/sql-queue.js'
import { newRelayToken, OutboxRelay, RELAY_BYTES, type RelayJob } from './outbox-relay.js'
import { privateJobsDatabase } from '../sql/private-jobs-database.case.js'

const logger = createLogger({ level: 'silent' })

function job(n: number, bytes: number): NewJob & { token: string } {
  const now = Date.now()
  return {
    name: 'bulky',
    payload: JSON.stringify({ n, blob: 'x'.repeat(bytes) }),
    runAtMs: now,
    createdAtMs: now,
    maxAttempts: 3,
    key: undefined,
    token: newRelayToken(),
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it).
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(`OutboxRelay on ${engine.title}`, () => {
    const jobsDb = privateJobsDatabase(engine, { pool: 4 })

    // A thousand rows of large payloads were read at once and handed to Redis as one MULTI.
    it('hands BullMQ at most RELAY_BYTES of rows a call, a larger row alone, and relays every row once in order', async () => {
      const db = jobsDb.database()
      const part = Math.floor(RELAY_BYTES * 0.4)
      // Past the cap by a MiB: under MariaDB's default max_allowed_packet (16 MiB), so stored.
      const rows = [
        ...Array.from({ length: 5 }, (_, n) => job(n, part)),
        job(5, RELAY_BYTES + 1024 * 1024),
        ...Array.from({ length: 3 }, (_, n) => job(6 + n, part)),
        ...Array.from({ length: 20 }, (_, n) => job(9 + n, 100)),
      ]
      for (const row of rows) await new SqlQueue({ database: db }).enqueue([row])
      const calls: RelayJob[][] = []
      const relay = new OutboxRelay({
        database: db,
        logger,
        sweepMs: 60_000,
        target: {
          load: async () => undefined,
          add: async (jobs) => void calls.push([...jobs]),
          settle: async () => undefined,
          marks: async () => ({ cursor: '0', ids: [] }),
        },
      })
      try {
        expect(await relay.relay()).toBe(rows.length)
      } finally {
        await relay.close()
      }
      const size = (jobs: readonly RelayJob[]) =>
        jobs.reduce((sum, relayed) => sum + Buffer.byteLength(relayed.data.p) + 5, 0)
      for (const call of calls) {
        if (call.length > 1) expect(size(call)).toBeLessThanOrEqual(RELAY_BYTES)
      }
      const order = (relayed: RelayJob) => (JSON.parse(relayed.data.p) as { n: number }).n
      // The row past the cap went alone; the rest in calls of two large ones, then the small.
      expect(calls.map((call) => call.map(order))).toEqual([
        [0, 1],
        [2, 3],
        [4],
        [5],
        [6, 7],
        [8, ...Array.from({ length: 20 }, (_, n) => 9 + n)],
      ])
      expect(await new SqlQueue({ database: db }).counts(Date.now())).toEqual([])
    })
  })
}
