// A worker process for the multi-process tests (chaos.test.ts): an app whose jobs record each
// run in tables with unique keys, so the test counts runs, duplicates and schedule ticks.
// Started with `node --import scripts/run-ts/register.mjs chaos-worker.ts '<settings as JSON>'`.
import 'reflect-metadata'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Kysely, sql } from 'kysely'
import { z } from 'zod'
import { createApp } from '../../app/create-app.js'
import { defineModule } from '../../app/define-module.js'
import { createLogger } from '../../logger/create-logger.js'
import { DATABASE } from '../../persistence/database/index.js'
import { defineJob } from '../define-job.js'
import { schedule } from '../schedules/index.js'
import { isUniqueViolation } from '../sql/sql-queue.js'

interface Settings {
  readonly url: string
  readonly concurrency: number
  readonly batchSize: number
  readonly leaseMs: number
  readonly pollMs: number
  readonly slowMs?: number
  /** How long each `chaos.record` job takes before it records itself. */
  readonly recordMs?: number
  readonly tickMs?: number
}

const settings = JSON.parse(process.argv[2] ?? '{}') as Settings
const me = `pid-${process.pid}`

const app = createApp({
  database: settings.url,
  logger: createLogger({ level: process.env.CHAOS_LOG === 'debug' ? 'debug' : 'error' }),
  jobs: {
    workers: {
      concurrency: settings.concurrency,
      batchSize: settings.batchSize,
      leaseMs: settings.leaseMs,
      pollMs: settings.pollMs,
    },
  },
  modules: [
    defineModule({
      name: 'chaos',
      register() {},
      jobs: [
        defineJob({
          name: 'chaos.record',
          schema: z.object({ n: z.number() }),
          async handler(_payload, job) {
            if (settings.recordMs !== undefined) await sleep(settings.recordMs)
            await record(job.resolve(DATABASE).root, 'chaos_done', job.id)
          },
        }),
        defineJob({
          name: 'chaos.slow',
          schema: z.object({}),
          async handler(_payload, job) {
            const db = job.resolve(DATABASE).root
            await sql`insert into chaos_started (job_id, pid, attempt) values (${job.id}, ${process.pid}, ${job.attempt})`.execute(
              db,
            )
            // The first attempt outlasts any delay of the test's: it is killed mid-job.
            await sleep(job.attempt === 1 ? (settings.slowMs ?? 0) : 100)
            await record(db, 'chaos_done', job.id)
          },
        }),
      ],
      schedules:
        settings.tickMs === undefined
          ? []
          : [
              schedule('chaos.tick', { every: settings.tickMs }, (tick, job) =>
                record(job.resolve(DATABASE).root, 'chaos_tick', String(tick.at.getTime())),
              ),
            ],
    }),
  ],
})

/** Records a run under a unique key; a second run of the same key is counted as a duplicate. */
async function record(
  db: Kysely<unknown>,
  table: 'chaos_done' | 'chaos_tick',
  key: string,
): Promise<void> {
  try {
    await sql`insert into ${sql.table(table)} (id, worker) values (${key}, ${me})`.execute(db)
  } catch (error) {
    if (!isUniqueViolation(error)) throw error
    await sql`insert into chaos_dup (id, source) values (${key}, ${table})`.execute(db)
  }
}

await app.start()
app.handleSignals({ timeoutMs: 5_000 })
// Workers' timers never hold a process open (a web server or `mortar worker` does): on SQLite,
// with no socket open, this worker would exit as soon as it is idle.
setInterval(() => undefined, 1 << 30)
process.send?.('ready')
