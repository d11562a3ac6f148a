import * as vitest from 'vitest'
import { z } from 'zod'
import { defineModule } from '../../app/define-module.js'
import { createLogger } from '../../logger/create-logger.js'
import { Database } from '../../persistence/database/index.js'
import { createTestApp, queueConformance } from '../../testing/index.js'
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
