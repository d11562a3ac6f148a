// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): an id returned by
// an enqueue with a key means the job will run once its transaction commits, and `undefined`
// that it will not, as `JobQueue.enqueue` promises. The inline queue handed out ids in a
// transaction for jobs it then dropped at commit (a second enqueue of the key in the same
// transaction, or one committed meanwhile), and stored a job enqueued while another
// database's transaction was open inside the app's at that one's commit, though the app's
// rolled back.
import { expect } from 'vitest'
import { z } from 'zod'
import { Database } from '../persistence/database/database.js'
import { transaction } from '../persistence/transactions/index.js'
import { defineJob, type JobDefinition } from './define-job.js'
import type { JobQueue } from './job-queue.js'

/** The job to register, and the check to run on the started app's queue and database. */
export function keyedEnqueueCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue, database: Database): Promise<void>
} {
  const ran: string[] = []
  const note = defineJob({
    name: 'test.keyed-note',
    schema: z.object({ text: z.string() }),
    handler: ({ text }) => void ran.push(text),
  })
  return {
    jobs: [note],
    async check(jobs, database) {
      // What each enqueue answered, by the job's text: the jobs that must run, and no other.
      const answers = new Map<string, string | undefined>()
      const add = async (text: string, key: string): Promise<void> => {
        answers.set(text, await jobs.enqueue(note, { text }, { key }))
      }
      /** Enqueues outside any transaction once `opened` resolves, while one holds the key. */
      const outside = (opened: Promise<void>, text: string, key: string) =>
        opened.then(() => add(text, key))

      await add('live', 'held')
      await transaction(
        async () => {
          await add('first in transaction', 'twice')
          await add('second in transaction', 'twice')
          const [many] = await jobs.enqueueMany(note, [
            { payload: { text: 'many in transaction' }, options: { key: 'twice' } },
          ])
          answers.set('many in transaction', many)
          await add('behind a live job', 'held')
          // A savepoint that rolled back gives its key back to the transaction.
          await expect(
            transaction(
              async () => {
                await add('in a rolled-back savepoint', 'savepoint')
                throw new Error('undone')
              },
              { propagation: 'savepoint' },
            ),
          ).rejects.toThrow('undone')
          await add('after the savepoint', 'savepoint')
        },
        { database },
      )
      expect(answers.get('first in transaction')).toBeDefined()
      expect(answers.get('second in transaction')).toBeUndefined()
      expect(answers.get('many in transaction')).toBeUndefined()
      expect(answers.get('behind a live job')).toBeUndefined()
      expect(answers.get('after the savepoint')).toBeDefined()

      // An enqueue of a key an open transaction holds is decided by how that one ends.
      for (const [key, fails] of [
        ['committed meanwhile', false],
        ['rolled back meanwhile', true],
      ] as const) {
        let open!: () => void
        const opened = new Promise<void>((resolve) => {
          open = resolve
        })
        const waiting = outside(opened, `outside, ${key}`, key)
        await transaction(
          async () => {
            await add(`inside, ${key}`, key)
            open()
            // Turns for the outside enqueue to reach the key before this one ends.
            for (let turn = 0; turn < 5; turn++)
              await new Promise((resolve) => setImmediate(resolve))
            if (fails) throw new Error('declined')
          },
          { database },
        ).catch((error: unknown) => {
          if (!fails) throw error
        })
        await waiting
      }
      expect(answers.get('outside, committed meanwhile')).toBeUndefined()
      expect(answers.get('outside, rolled back meanwhile')).toBeDefined()

      // A transaction of another database open inside the app's: the job is the app's.
      const other = new Database('sqlite::memory:')
      try {
        await expect(
          transaction(
            async () => {
              await other.transaction(() => add('nested, rolled back', 'nested'))
              throw new Error('declined')
            },
            { database },
          ),
        ).rejects.toThrow('declined')
      } finally {
        await other.destroy()
      }

      await jobs.drain()
      // Every job whose enqueue gave an id and whose transaction committed, and no other.
      const committed = [
        'live',
        'first in transaction',
        'after the savepoint',
        'inside, committed meanwhile',
        'outside, rolled back meanwhile',
      ]
      expect(ran.sort()).toEqual(committed.sort())
      for (const text of committed) expect(answers.get(text)).toBeDefined()
    },
  }
}
