// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): one enqueueMany
// whose payloads together pass what one statement may carry is stored whole, in one
// transaction, and runs. On MariaDB it was one INSERT past max_allowed_packet, refused whole
// (16 MiB by default: a thousand payloads of 1 MB, or twenty).
import { sql } from 'kysely'
import { expect } from 'vitest'
import { z } from 'zod'
import type { Database } from '../persistence/database/database.js'
import { transaction } from '../persistence/transactions/index.js'
import { defineJob, type JobDefinition } from './define-job.js'
import type { JobQueue } from './job-queue.js'

const MB = 1_000_000
// Text that JSON escapes, and mysql2 escapes again in the statement: 7 characters, 10 in JSON.
const UNIT = 'a"b\\c\nd'

/** The job to register, and the check to run on the started app's queue and database. */
export function largeBatchCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue, database: Database): Promise<void>
} {
  const ran = new Set<number>()
  let blobLength = 0
  const bulky = defineJob({
    name: 'test.bulky',
    schema: z.object({ n: z.number(), blob: z.string() }),
    handler: ({ n, blob }) => {
      if (blob.length === blobLength) ran.add(n)
    },
  })
  return {
    jobs: [bulky],
    async check(jobs, database) {
      const packet =
        database.engine === 'mysql'
          ? Number(
              (
                await sql<{ bytes: number }>`select @@max_allowed_packet as bytes`.execute(
                  database.root,
                )
              ).rows[0]?.bytes,
            )
          : 16 * MB
      // 0.9 MB of JSON a payload (the most a payload may be is 1 MiB of it).
      const blob = UNIT.repeat(90_000)
      blobLength = blob.length
      const items = Array.from({ length: Math.ceil((packet * 1.5) / (0.9 * MB)) }, (_, n) => ({
        payload: { n, blob },
      }))
      await expect(
        transaction(
          async () => {
            await jobs.enqueueMany(bulky, items)
            throw new Error('declined')
          },
          { database },
        ),
      ).rejects.toThrow('declined')
      expect((await jobs.status()).counts).toEqual([])
      const ids = await jobs.enqueueMany(bulky, items)
      expect(ids.every((id) => id !== undefined)).toBe(true)
      await jobs.drain()
      expect(ran.size).toBe(items.length)
    },
  }
}
