// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): an enqueue belongs
// to the caller's transaction, through transaction() and @Transactional() alike.
import { expect } from 'vitest'
import { z } from 'zod'
import { Transactional, transaction } from '../persistence/transactions/index.js'
import { defineJob, type JobDefinition } from './define-job.js'
import type { JobQueue } from './job-queue.js'
import { enqueue } from './running-queues.js'

/** The job to register, and the check to run on the started app's queue. */
export function transactionalEnqueueCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue): Promise<void>
} {
  const ran: string[] = []
  const note = defineJob({
    name: 'test.note',
    schema: z.object({ text: z.string() }),
    handler: ({ text }) => {
      ran.push(text)
    },
  })
  return {
    jobs: [note],
    async check(jobs) {
      await transaction(async () => {
        await jobs.enqueue(note, { text: 'committed' })
      })
      await expect(
        transaction(async () => {
          await jobs.enqueue(note, { text: 'rolled back' })
          throw new Error('payment declined')
        }),
      ).rejects.toThrow('payment declined')
      class Checkout {
        @Transactional()
        async place(fail: boolean): Promise<void> {
          await enqueue(note, { text: fail ? 'decorated, rolled back' : 'decorated' })
          if (fail) throw new Error('out of stock')
        }
      }
      await new Checkout().place(false)
      await expect(new Checkout().place(true)).rejects.toThrow('out of stock')
      await jobs.drain()
      expect(ran.sort()).toEqual(['committed', 'decorated'])
      expect((await jobs.status()).counts).toEqual([])
    },
  }
}
