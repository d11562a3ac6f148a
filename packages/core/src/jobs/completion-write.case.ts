// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): what handlers give
// `job.completeWith` is written with their jobs' completion, batched, and never for an attempt
// that failed; a write the database refuses for one job's value fails that job's attempt alone.
import { type Kysely, sql } from 'kysely'
import { expect } from 'vitest'
import { z } from 'zod'
import type { Database } from '../persistence/database/database.js'
import { defineJob, type JobDefinition } from './define-job.js'
import type { CompletionWrite, JobQueue } from './job-queue.js'

interface Tables {
  test_completion: { id: string; attempt: number }
}

/** The jobs to register, and the check to run on the started app's queue and database. */
export function completionWriteCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue, database: Database): Promise<void>
} {
  let database: Database | undefined
  let builds = 0
  const record: CompletionWrite<{ id: string; attempt: number }> = (values) => {
    builds += 1
    if (database === undefined) throw new Error('check() sets the database first')
    return (database.kysely as Kysely<Tables>).insertInto('test_completion').values([...values])
  }
  const broken: CompletionWrite<string> = () => {
    throw new Error('cannot build this write')
  }
  const work = defineJob({
    name: 'test.completion',
    schema: z.object({ id: z.string(), fail: z.enum(['no', 'after', 'build']) }),
    attempts: 1,
    handler: ({ id, fail }, job) => {
      job.completeWith(record, { id, attempt: job.attempt })
      if (fail === 'build') job.completeWith(broken, id)
      if (fail === 'after') throw new Error('failed after completeWith')
    },
  })
  return {
    jobs: [work],
    async check(jobs, db) {
      database = db
      await sql`drop table if exists test_completion`.execute(db.root)
      await sql`create table test_completion (id varchar(36) primary key, attempt integer not null)`.execute(
        db.root,
      )
      // Its job's record collides with this row: the batched insert holding it is refused.
      await sql`insert into test_completion (id, attempt) values ('taken', 0)`.execute(db.root)
      const ids = Array.from({ length: 20 }, (_, i) => `ok-${i}`)
      await jobs.enqueueMany(work, [
        ...ids.map((id) => ({ payload: { id, fail: 'no' as const } })),
        { payload: { id: 'thrown', fail: 'after' } },
        { payload: { id: 'unbuildable', fail: 'build' } },
        { payload: { id: 'taken', fail: 'no' } },
      ])
      await jobs.drain()
      const rows = await (db.kysely as Kysely<Tables>)
        .selectFrom('test_completion')
        .selectAll()
        .orderBy('id')
        .execute()
      // The failed attempt wrote nothing; the one whose write could not be built is dead,
      // unwritten; so is the one whose record the database refused, and it held back no other.
      expect(rows).toEqual([
        ...ids.sort().map((id) => ({ id, attempt: 1 })),
        { id: 'taken', attempt: 0 },
      ])
      expect(builds).toBeLessThan(ids.length)
      const dead = await jobs.list({ state: 'dead' })
      expect(dead.map((job) => (job.payload as { id: string }).id).sort()).toEqual([
        'taken',
        'thrown',
        'unbuildable',
      ])
      expect(
        dead.find((job) => (job.payload as { id: string }).id === 'taken')?.errors,
      ).toHaveLength(1)
      expect(
        dead.find((job) => (job.payload as { id: string }).id === 'unbuildable')?.errors,
      ).toEqual([expect.objectContaining({ message: 'cannot build this write' })])
      await sql`drop table test_completion`.execute(db.root)
    },
  }
}
