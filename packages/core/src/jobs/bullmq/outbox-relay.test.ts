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
    it('hands BullMQ at most RELAY_BYTES of rows a call, a larger row alone, and relays every row once (in order on one lane)', async () => {
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
      expect(
        calls
          .flat()
          .map(order)
          .sort((a, b) => a - b),
      ).toEqual(rows.map((_, n) => n))
      expect(calls.find((call) => call.some((relayed) => order(relayed) === 5))).toHaveLength(1)
      // PostgreSQL's lanes split the backlog between them; one lane keeps the order.
      if (engine.engine === 'postgres') return
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

    // Rows past the cap were locked with the rest of the pick and stayed locked until the
    // relay's transaction ended: no other relay could take them meanwhile. SQLite has no locks.
    if (engine.engine !== 'sqlite') {
      it('leaves the rows past the cap free for another relay while the first is still in its transaction', async () => {
        const db = jobsDb.database()
        const rows = [
          job(0, Math.floor(RELAY_BYTES * 0.6)),
          job(1, Math.floor(RELAY_BYTES * 0.6)),
          ...Array.from({ length: 5 }, (_, n) => job(2 + n, 100)),
        ]
        for (const row of rows) await new SqlQueue({ database: db }).enqueue([row])
        const order = (relayed: RelayJob) => (JSON.parse(relayed.data.p) as { n: number }).n
        let holding!: () => void
        const held = new Promise<void>((resolve) => {
          holding = resolve
        })
        let release!: () => void
        const released = new Promise<void>((resolve) => {
          release = resolve
        })
        const target = (calls: number[][], gate?: Promise<void>) => ({
          load: async () => undefined,
          add: async (jobs: readonly RelayJob[]) => {
            calls.push(jobs.map(order))
            if (gate !== undefined && calls.length === 1) {
              holding()
              await gate
            }
          },
          settle: async () => undefined,
          marks: async () => ({ cursor: '0', ids: [] }),
        })
        const firstCalls: number[][] = []
        const secondCalls: number[][] = []
        const first = new OutboxRelay({
          database: db,
          logger,
          sweepMs: 60_000,
          target: target(firstCalls, released),
        })
        const second = new OutboxRelay({
          database: db,
          logger,
          sweepMs: 60_000,
          target: target(secondCalls),
        })
        try {
          const firstRelay = first.relay()
          // The first relay holds its pick (row 0) in its transaction until released.
          await held
          expect(await second.relay()).toBe(rows.length - 1)
          release()
          expect(await firstRelay).toBe(1)
        } finally {
          release()
          await first.close()
          await second.close()
        }
        expect(firstCalls).toEqual([[0]])
        expect(secondCalls.flat()).toEqual([1, 2, 3, 4, 5, 6])
        expect(await new SqlQueue({ database: db }).counts(Date.now())).toEqual([])
      })
    }
  })
}
