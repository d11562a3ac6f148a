// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): a stored payload
// that is not JSON (a row written by other code or an older version) buries its own job with
// E_JOB_PAYLOAD, and the jobs claimed with it run. On PostgreSQL the claim that carried
// `claimRead` reads cast every claimed payload to JSON: one such row failed the whole claim,
// every time, and the worker ran nothing again; `list()` failed on it on every engine.
import { expressionBuilder, type Kysely, sql } from 'kysely'
import { expect } from 'vitest'
import { z } from 'zod'
import type { Database } from '../persistence/database/database.js'
import { DATABASE } from '../persistence/database/database-tokens.js'
import { defineJob, type JobDefinition } from './define-job.js'
import type { JobQueue } from './job-queue.js'
import type { JobQueueService } from './job-queue-service.js'

interface Tables {
  test_unreadable: { id: string; label: string }
}

const NAME = 'test.unreadable'
// Not JSON, each of them; the last is JSON but no payload of the job (its schema refuses it).
const UNREADABLE = ['not json', '', '{"id": "row-1"', '{"id":"row-2"}}', '{"id": "\\x"}', '[1]']

/** The job to register, and the check to run on the started app's queue and database. */
export function unreadablePayloadCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue, database: Database): Promise<void>
} {
  const handled = new Map<string, string>()
  const deaths: string[] = []
  const rows = expressionBuilder<Tables, never>()
  const labelled = defineJob({
    name: NAME,
    schema: z.object({ id: z.string() }),
    claimRead: {
      key: 'id',
      select: (key) =>
        rows.selectFrom('test_unreadable').select(['id', 'label']).where('id', '=', key),
    },
    async prepare(payloads, batch, carried) {
      if (carried !== undefined) return carried.map((row) => row?.label ?? 'none')
      const found = await (batch.resolve(DATABASE).kysely as Kysely<Tables>)
        .selectFrom('test_unreadable')
        .selectAll()
        .where(
          'id',
          'in',
          payloads.map((payload) => payload.id),
        )
        .execute()
      return payloads.map(({ id }) => found.find((row) => row.id === id)?.label ?? 'none')
    },
    handler: ({ id }, _job, label) => void handled.set(id, label),
    onDead: (_payload, job) => void deaths.push(String(job.error.code)),
  })
  return {
    jobs: [labelled],
    async check(jobs, database) {
      await sql`drop table if exists test_unreadable`.execute(database.root)
      await sql`create table test_unreadable (id varchar(36) primary key, label varchar(64) not null)`.execute(
        database.root,
      )
      const ids = Array.from({ length: 10 }, (_, i) => `row-${i}`)
      await (database.kysely as Kysely<Tables>)
        .insertInto('test_unreadable')
        .values(ids.map((id, i) => ({ id, label: `label ${i}` })))
        .execute()
      // Written as other code would, first in the queue and between the jobs of this app.
      const adapter = (jobs as JobQueueService).adapter
      const raw = (payloads: readonly string[]) =>
        adapter.enqueue(
          payloads.map((payload) => ({
            name: NAME,
            payload,
            runAtMs: 0,
            createdAtMs: 0,
            maxAttempts: 3,
            key: undefined,
          })),
        )
      const bad = [...(await raw(UNREADABLE.slice(0, 3)))]
      await jobs.enqueueMany(
        labelled,
        ids.slice(0, 5).map((id) => ({ payload: { id } })),
      )
      bad.push(...(await raw(UNREADABLE.slice(3))))
      await jobs.enqueueMany(
        labelled,
        ids.slice(5).map((id) => ({ payload: { id } })),
      )
      await jobs.drain()
      expect(Object.fromEntries(handled)).toEqual(
        Object.fromEntries(ids.map((id, i) => [id, `label ${i}`])),
      )
      expect(deaths).toEqual(UNREADABLE.map(() => 'E_JOB_PAYLOAD'))
      const dead = await jobs.list({ state: 'dead' })
      const shown = (payload: unknown, codes: readonly unknown[]) =>
        JSON.stringify([payload, codes])
      expect(
        dead
          .map((job) =>
            shown(
              job.payload,
              job.errors.map((error) => error.code),
            ),
          )
          .sort(),
      ).toEqual(
        UNREADABLE.map((text) => shown(text === '[1]' ? [1] : text, ['E_JOB_PAYLOAD'])).sort(),
      )
      expect(dead[0]?.errors[0]?.message).toMatch(/is not JSON/)
      expect((await jobs.status()).counts).toEqual([
        { name: NAME, state: 'dead', count: UNREADABLE.length },
      ])
      expect(bad.every((id) => id !== undefined)).toBe(true)
      await sql`drop table test_unreadable`.execute(database.root)
    },
  }
}
