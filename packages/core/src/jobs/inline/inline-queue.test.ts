import * as vitest from 'vitest'
import { z } from 'zod'
import { defineModule } from '../../app/define-module.js'
import { createLogger } from '../../logger/create-logger.js'
import { Database } from '../../persistence/database/index.js'
import {
  createTestApp,
  privateDatabaseUrl,
  queueConformance,
  type TestEngine,
  testEngines,
} from '../../testing/index.js'
import { defineJob } from '../define-job.js'
import { JOBS, type JobQueue } from '../job-queue.js'
import { InlineQueue } from './inline-queue.js'

// One SQLite database only to open transactions in: the inline queue itself keeps no rows there.
const database = new Database('sqlite::memory:')

queueConformance(vitest, 'InlineQueue', () => ({
  adapter: new InlineQueue(),
  inProcess: true,
  transaction: (fn) => database.transaction(fn),
}))

// An app on the inline engine (the default without a database) that stopped with jobs not yet
// run lost them without a word.
vitest.describe('InlineQueue at stop', () => {
  const note = defineJob({
    name: 'test.inline_note',
    schema: z.object({ text: z.string() }),
    handler: () => undefined,
  })

  async function stoppedWith(enqueue: (jobs: JobQueue) => Promise<void>): Promise<unknown[]> {
    const lines: string[] = []
    const app = createTestApp({
      modules: [defineModule({ name: 'test', register() {}, jobs: [note] })],
      jobs: { engine: 'inline', workers: false },
      logger: createLogger({ level: 'warn', destination: { write: (line) => lines.push(line) } }),
    })
    await app.start()
    await enqueue(app.resolve(JOBS))
    await app.stop()
    return lines.map((line) => JSON.parse(line) as unknown)
  }

  vitest.it('reports the jobs it loses, by name, when stopped with jobs not yet run', async () => {
    const logged = await stoppedWith(async (jobs) => {
      await jobs.enqueue(note, { text: 'due' })
      await jobs.enqueue(note, { text: 'later' }, { delay: 3_600_000 })
    })
    vitest.expect(logged).toEqual([
      vitest.expect.objectContaining({
        lostJobs: { 'test.inline_note': 2 },
        msg: vitest.expect.stringContaining(
          "'inline' jobs engine stopped with 2 job(s) not yet run",
        ),
      }),
    ])
  })

  vitest.it('reports nothing when every job ran before the stop', async () => {
    const logged = await stoppedWith(async (jobs) => {
      await jobs.enqueue(note, { text: 'due' })
      await jobs.drain()
    })
    vitest.expect(logged).toEqual([])
  })
})

// Two transactions of a database with concurrent ones, each holding a key the other enqueues:
// waiting, as for any key another open transaction holds, neither would ever end.
const concurrent = testEngines().find((engine) => engine.engine !== 'sqlite' && !engine.skip)
vitest.describe.skipIf(concurrent === undefined)('InlineQueue keys across transactions', () => {
  vitest.it(
    'refuses with E_JOBS_DEADLOCK the enqueue that would close a cycle of waits, and the other goes on',
    async () => {
      const target = await privateDatabaseUrl(concurrent as TestEngine)
      const database = new Database(target.url)
      try {
        const queue = new InlineQueue({ database })
        const job = (key: string) => ({
          name: 'test.deadlock',
          payload: '{}',
          runAtMs: 0,
          createdAtMs: 0,
          maxAttempts: 1,
          key,
        })
        let firstHolds!: () => void
        const held = new Promise<void>((resolve) => {
          firstHolds = resolve
        })
        let firstWaits!: () => void
        const waiting = new Promise<void>((resolve) => {
          firstWaits = resolve
        })
        const first = database.transaction(async () => {
          const [a] = await queue.enqueue([job('a')])
          firstHolds()
          await waiting
          // Waits for the second transaction, which holds 'b'.
          const [b] = await queue.enqueue([job('b')])
          return [a, b]
        })
        const second = database.transaction(async () => {
          await held
          await queue.enqueue([job('b')])
          firstWaits()
          for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve))
          await queue.enqueue([job('a')])
        })
        await vitest.expect(second).rejects.toMatchObject({ code: 'E_JOBS_DEADLOCK' })
        // The second rolled back: 'b' is free, and the first stores both.
        const [a, b] = await first
        vitest.expect(a).toBeDefined()
        vitest.expect(b).toBeDefined()
        const stored = await queue.list({ limit: 10, nowMs: 0 })
        vitest.expect(stored.map((info) => info.key).sort()).toEqual(['a', 'b'])
      } finally {
        await database.destroy()
        await target.drop()
      }
    },
  )
})
