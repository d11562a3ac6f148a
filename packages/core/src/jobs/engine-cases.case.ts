// The test bodies every jobs engine runs (jobs.test.ts for the SQL and inline queues,
// bullmq-engine.test.ts for BullMQ): each test file starts an app with a case's jobs and runs
// its check, so a case added here runs on every engine.
import type { Database } from '../persistence/database/index.js'
import { attemptErrorsCase } from './attempt-errors.case.js'
import { claimReadCase } from './claim-read.case.js'
import { completionWriteCase } from './completion-write.case.js'
import { deadJobCase, refusedDeathCase } from './dead-job.case.js'
import type { JobDefinition } from './define-job.js'
import type { JobQueue } from './job-queue.js'
import { keyedEnqueueCase } from './keyed-enqueue.case.js'
import { largeBatchCase } from './large-batch.case.js'
import { payloadRoundTripCase } from './payload-round-trip.case.js'
import { prepareCase } from './prepare.case.js'
import { transactionalEnqueueCase } from './transactional-enqueue.case.js'
import { unreadablePayloadCase } from './unreadable-payload.case.js'

/** A case's jobs to register, and the check to run on the started app. */
export interface EngineCase {
  readonly jobs: JobDefinition[]
  check(jobs: JobQueue, database: Database): Promise<void>
}

/** Each case by its test title; `make` gives a fresh one per app. */
export const engineCases: readonly { readonly title: string; make(): EngineCase }[] = [
  {
    title: 'runs a job enqueued in a committed transaction, never one from a rolled-back one',
    make: transactionalEnqueueCase,
  },
  {
    title:
      'writes what handlers give completeWith with their completion, batched; nothing for a failed attempt',
    make: completionWriteCase,
  },
  {
    title:
      'buries a job whose stored payload is not JSON with E_JOB_PAYLOAD and runs the jobs claimed with it',
    make: unreadablePayloadCase,
  },
  {
    title: 'tells a job’s onDead of every death, and records the death once it returned',
    make: deadJobCase,
  },
  {
    title: 'reads what a claim’s jobs need with one prepare, each handler given its value',
    make: prepareCase,
  },
  {
    title:
      'hands prepare the rows its claim read where the engine carries claimRead, and reads them elsewhere',
    make: claimReadCase,
  },
  {
    title: 'tells a death again later when onDead refused it and nothing else fails meanwhile',
    make: refusedDeathCase,
  },
  {
    title:
      'gives a handler its payload exactly as enqueued, or refuses one JSON would change and stores nothing',
    make: payloadRoundTripCase,
  },
  {
    title:
      'returns an id for a keyed enqueue exactly when the job will run, in a transaction too, and waits on a key another open transaction holds',
    make: keyedEnqueueCase,
  },
  {
    title:
      'stores one enqueueMany past what one statement carries (MariaDB’s max_allowed_packet) whole, in one transaction',
    make: largeBatchCase,
  },
  {
    title:
      'records a failed attempt whatever its error’s size or however reading it throws, reads any thenable, and keeps the last attempts’ errors of a job',
    make: attemptErrorsCase,
  },
]
