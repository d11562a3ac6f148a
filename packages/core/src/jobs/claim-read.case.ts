// One test body for every jobs engine (jobs.test.ts, bullmq-engine.test.ts): a job's
// `claimRead` rides with the claim where the engine can carry it (the SQL queue on PostgreSQL),
// its rows handed to `prepare`; elsewhere `prepare` is given none and reads itself. Either way
// each handler gets the value of its own row.
import { expressionBuilder, type Kysely, sql } from 'kysely'
import { expect } from 'vitest'
import { z } from 'zod'
import type { Database } from '../persistence/database/database.js'
import { DATABASE } from '../persistence/database/database-tokens.js'
import { defineJob, type JobDefinition } from './define-job.js'
import type { JobContext } from './job-context.js'
import type { JobQueue } from './job-queue.js'

interface Tables {
  test_claim_read: { id: string; label: string; weight: number; big: string }
}

const JOBS = 20
// Enqueued without a row: its read finds none.
const MISSING = 'missing'
const UNSAFE_BIGINT = '9007199254740993'

/** The jobs to register, and the check to run on the started app's queue and database. */
export function claimReadCase(): {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue, database: Database): Promise<void>
} {
  const carriedCalls: boolean[] = []
  const handled = new Map<string, string>()
  const rows = expressionBuilder<Tables, never>()
  // The rows the claim carried, else (noted) read by id as prepare does where it carries none.
  const found = async <R>(
    carried: readonly (R | null)[] | undefined,
    batch: Pick<JobContext, 'resolve'>,
    ids: readonly string[],
    calls = carriedCalls,
  ): Promise<readonly (R | Tables['test_claim_read'] | null)[]> => {
    calls.push(carried !== undefined)
    if (carried !== undefined) return carried
    const all = await (batch.resolve(DATABASE).kysely as Kysely<Tables>)
      .selectFrom('test_claim_read')
      .selectAll()
      .where('id', 'in', [...ids])
      .execute()
    return ids.map((id) => all.find((row) => row.id === id) ?? null)
  }
  // A job whose prepare hands each handler its row's label, read by the id in its payload; the
  // handler records it under the entry its payload names.
  const labelJob = (
    name: string,
    id: z.ZodString,
    entry: (payload: { id: string; note?: string | undefined }) => string,
    calls = carriedCalls,
  ) =>
    defineJob({
      name,
      schema: z.object({ id, note: z.string().optional() }),
      claimRead: {
        key: 'id',
        select: (key) =>
          rows.selectFrom('test_claim_read').select(['id', 'label']).where('id', '=', key),
      },
      prepare: async (payloads, batch, carried) =>
        (
          await found(
            carried,
            batch,
            payloads.map((payload) => payload.id),
            calls,
          )
        ).map((row) => row?.label ?? 'none'),
      handler: (payload, _job, label) => void handled.set(entry(payload), label),
    })
  const labelled = labelJob('test.claim-read', z.string(), ({ id }) => id)
  // A second read in the same claims, keyed by another field: each job gets its own name's read.
  // A job whose prepare hands each handler a value of one column of its row, read by the row
  // named in its payload: a second read in the same claims, keyed by another field, so each
  // job gets its own name's read.
  const columnJob = (
    name: string,
    column: 'weight' | 'big',
    entry: (payload: { row: string; n: number }) => string,
    calls = carriedCalls,
  ) =>
    defineJob({
      name,
      schema: z.object({ row: z.string(), n: z.number() }),
      claimRead: {
        key: 'row',
        select: (id) => rows.selectFrom('test_claim_read').select(column).where('id', '=', id),
      },
      prepare: async (payloads, batch, carried) =>
        (
          await found(
            carried,
            batch,
            payloads.map((payload) => payload.row),
            calls,
          )
        ).map((row) => `${column} ${row === null ? 'none' : String(row[column])}`),
      handler: (payload, _job, value) => void handled.set(entry(payload), value),
    })
  const weighed = columnJob('test.claim-read-weight', 'weight', ({ n }) => `n${n}`)
  // A bigint past 2^53, which a JSON number would round: read exactly, carried or not.
  const bigCalls: boolean[] = []
  const big = columnJob('test.claim-read-big', 'big', ({ row }) => `big ${row}`, bigCalls)
  // A key the schema changes (trimmed here): the claim read the stored text, the handler gets
  // the parsed one. The claim found no row for '  row-3 ' and handed prepare null for a row
  // that exists: its job ended as if the row were gone.
  const trimmed = labelJob(
    'test.claim-read-trimmed',
    z.string().trim(),
    ({ id }) => `trimmed ${id}`,
    [],
  )
  // Text that PostgreSQL's JSON functions refuse (U+0000, a lone surrogate: JSON.stringify
  // writes them escaped) in a field the read is not keyed by. Read for the claim, it failed the
  // whole claim every time, and the worker ran no job again.
  const noted = labelJob(
    'test.claim-read-noted',
    z.string(),
    ({ note }) => `noted ${JSON.stringify(note)}`,
    [],
  )
  return {
    jobs: [labelled, weighed, big, trimmed, noted],
    async check(jobs, database) {
      await sql`drop table if exists test_claim_read`.execute(database.root)
      await sql`create table test_claim_read (id varchar(36) primary key, label varchar(64) not null, weight integer not null, big bigint not null)`.execute(
        database.root,
      )
      const ids = Array.from({ length: JOBS }, (_, i) => `row-${i}`)
      await (database.kysely as Kysely<Tables>)
        .insertInto('test_claim_read')
        .values(
          ids.map((id, i) => ({
            id,
            label: `label ${i}`,
            weight: i * 10,
            big: i === 0 ? UNSAFE_BIGINT : String(i),
          })),
        )
        .execute()
      await jobs.enqueueMany(
        labelled,
        [...ids, MISSING].map((id) => ({ payload: { id } })),
      )
      await jobs.enqueueMany(
        weighed,
        ids.map((row, n) => ({ payload: { row, n } })),
      )
      await jobs.enqueueMany(
        big,
        ids.map((row, n) => ({ payload: { row, n } })),
      )
      await jobs.enqueueMany(trimmed, [
        { payload: { id: '  row-3 ' } },
        { payload: { id: 'row-4' } },
      ])
      await jobs.enqueueMany(noted, [
        { payload: { id: 'row-5', note: 'a\u0000b' } },
        { payload: { id: 'row-6', note: '\ud800' } },
        { payload: { id: 'row-7', note: '\\u0000 as text' } },
        { payload: { id: 'row-8', note: 'plain' } },
      ])
      await jobs.drain()
      expect(Object.fromEntries(handled)).toEqual({
        'noted "a\\u0000b"': 'label 5',
        'noted "\\ud800"': 'label 6',
        'noted "\\\\u0000 as text"': 'label 7',
        'noted "plain"': 'label 8',
        'trimmed row-3': 'label 3',
        'trimmed row-4': 'label 4',
        ...Object.fromEntries(
          ids.map((id, i) => [`big ${id}`, `big ${i === 0 ? UNSAFE_BIGINT : String(i)}`]),
        ),
        ...Object.fromEntries(ids.map((id, i) => [id, `label ${i}`])),
        [MISSING]: 'none',
        ...Object.fromEntries(ids.map((_, n) => [`n${n}`, `weight ${n * 10}`])),
      })
      // Carried by the SQL queue on PostgreSQL, every claim; read by prepare everywhere else.
      const carries = jobs.engine === 'database' && database.engine === 'postgres'
      expect(carriedCalls.length).toBeGreaterThan(0)
      expect(new Set(carriedCalls)).toEqual(new Set([carries]))
      // The claim holding the unsafe bigint carried nothing (nor did any where none carries).
      expect(bigCalls).toContain(false)
      await sql`drop table test_claim_read`.execute(database.root)
    },
  }
}
