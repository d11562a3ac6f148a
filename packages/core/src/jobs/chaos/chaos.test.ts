import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { App } from '../../app/app.js'
import { createApp } from '../../app/create-app.js'
import { defineModule } from '../../app/define-module.js'
import { createLogger } from '../../logger/create-logger.js'
import { DATABASE } from '../../persistence/database/index.js'
import { type PrivateDatabaseUrl, privateDatabaseUrl, testEngines } from '../../testing/index.js'
import { defineJob } from '../define-job.js'
import { JOBS } from '../job-queue.js'

// Real processes: workers killed with SIGKILL, three of them on one queue, one schedule.
const program = fileURLToPath(new URL('./chaos-worker.ts', import.meta.url))
const loader = fileURLToPath(new URL('../../../../../scripts/run-ts/register.mjs', import.meta.url))

// The parent enqueues through the same names as the workers, with no worker of its own.
const record = defineJob({
  name: 'chaos.record',
  schema: z.object({ n: z.number() }),
  handler() {},
})
const slow = defineJob({ name: 'chaos.slow', schema: z.object({}), handler() {} })

interface WorkerSettings {
  readonly concurrency?: number
  readonly batchSize?: number
  readonly leaseMs?: number
  readonly pollMs?: number
  readonly slowMs?: number
  readonly recordMs?: number
  readonly tickMs?: number
}

interface Worker {
  readonly child: ChildProcess
  /** Resolves to the exit code (or the signal that ended it). */
  readonly exited: Promise<number | NodeJS.Signals | null>
}

async function startWorker(url: string, settings: WorkerSettings): Promise<Worker> {
  const child = fork(
    program,
    [
      JSON.stringify({
        url,
        concurrency: 10,
        batchSize: 50,
        leaseMs: 5_000,
        pollMs: 100,
        ...settings,
      }),
    ],
    { execArgv: ['--import', loader], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  )
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    void exited.then((code) =>
      reject(new Error(`The worker process exited before it was ready (${code}).`)),
    )
  })
  return { child, exited }
}

async function stopAll(workers: readonly Worker[]): Promise<void> {
  for (const worker of workers) if (worker.child.exitCode === null) worker.child.kill('SIGTERM')
  await Promise.all(workers.map((worker) => worker.exited))
}

async function count(db: Kysely<unknown>, table: string): Promise<number> {
  const { rows } = await sql<{
    n: string | number
  }>`select count(*) as n from ${sql.table(table)}`.execute(db)
  return Number(rows[0]?.n ?? 0)
}

async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting until ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three, so CI runs it.
  describe.skipIf(engine.skip !== undefined)(
    `jobs across worker processes on ${engine.title}`,
    () => {
      if (engine.skip) console.info(engine.skip)
      let target: PrivateDatabaseUrl
      let app: App
      let db: Kysely<unknown>
      const workers: Worker[] = []

      beforeAll(async () => {
        target = await privateDatabaseUrl(engine)
        app = createApp({
          database: target.url,
          logger: createLogger({ level: 'silent' }),
          jobs: { workers: false },
          modules: [defineModule({ name: 'chaos', register() {}, jobs: [record, slow] })],
        })
        await app.migrate()
        await app.start()
        db = app.resolve(DATABASE).root
        for (const table of ['chaos_done', 'chaos_tick']) {
          await db.schema
            .createTable(table)
            .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
            .addColumn('worker', 'varchar(40)', (c) => c.notNull())
            .execute()
        }
        await db.schema
          .createTable('chaos_dup')
          .addColumn('id', 'varchar(40)', (c) => c.notNull())
          .addColumn('source', 'varchar(40)', (c) => c.notNull())
          .execute()
        await db.schema
          .createTable('chaos_started')
          .addColumn('job_id', 'varchar(40)', (c) => c.notNull())
          .addColumn('pid', 'integer', (c) => c.notNull())
          .addColumn('attempt', 'integer', (c) => c.notNull())
          .execute()
      }, 60_000)

      afterAll(async () => {
        await stopAll(workers)
        await app?.stop()
        await target?.drop()
      })

      it('runs 10,000 jobs on three worker processes, each once', async () => {
        const jobs = app.resolve(JOBS)
        // The default lease: a shorter one can pass while a loaded machine (or SQLite's
        // synchronous wait for another process's lock) holds a worker's event loop, and a job
        // whose lease passed may run twice, which this test counts as a fault.
        // All three are claiming before the jobs come: on an idle machine, two that started first
        // ran all 10,000 on SQLite before the third was ready, and the test saw two workers.
        const three = await Promise.all(
          [0, 1, 2].map(() => startWorker(target.url, { leaseMs: 30_000 })),
        )
        workers.push(...three)
        for (let start = 0; start < 10_000; start += 1_000) {
          await jobs.enqueueMany(
            record,
            Array.from({ length: 1_000 }, (_, i) => ({ payload: { n: start + i } })),
          )
        }
        await until('every job ran', async () => (await count(db, 'chaos_done')) >= 10_000, 150_000)
        await stopAll(three)
        expect(await Promise.all(three.map((worker) => worker.exited))).toEqual([0, 0, 0])
        expect(await count(db, 'chaos_done')).toBe(10_000)
        // No worker was killed, so no lease expired: not one job ran twice.
        expect(await count(db, 'chaos_dup')).toBe(0)
        const { rows } = await sql<{ worker: string; n: string | number }>`
        select worker, count(*) as n from chaos_done group by worker`.execute(db)
        expect(rows.length).toBe(3)
        expect(await count(db, 'mortar_job')).toBe(0)
      }, 200_000)

      it('runs every job when one of three workers is killed mid-run; only its jobs run twice', async () => {
        await sql`delete from chaos_done`.execute(db)
        await sql`delete from chaos_dup`.execute(db)
        const jobs = app.resolve(JOBS)
        const total = 2_000
        await jobs.enqueueMany(
          record,
          Array.from({ length: total }, (_, n) => ({ payload: { n } })),
        )
        // Jobs that take a little time, so the victim still holds some when it is killed however
        // fast the machine runs the first fifth.
        const settings = { leaseMs: 10_000, concurrency: 5, batchSize: 20, recordMs: 20 }
        const three = await Promise.all([0, 1, 2].map(() => startWorker(target.url, settings)))
        workers.push(...three)
        await until('a part ran', async () => (await count(db, 'chaos_done')) >= total / 5, 60_000)
        // The busiest worker dies: on SQLite, one process can take most of the jobs for a while.
        const busiest = await sql<{ worker: string }>`select worker from chaos_done
          group by worker order by count(*) desc limit 1`.execute(db)
        const victim = three.find(
          (worker) => `pid-${worker.child.pid}` === busiest.rows[0]?.worker,
        ) as Worker
        victim.child.kill('SIGKILL')
        expect(await victim.exited).toBe('SIGKILL')
        // It died holding jobs (claimed, running, or run but not yet completed).
        const held = await sql<{ n: string | number }>`select count(*) as n from mortar_job
          where locked_by like ${`%:${victim.child.pid}:%`}`.execute(db)
        expect(Number(held.rows[0]?.n)).toBeGreaterThan(0)
        await until('every job ran', async () => (await count(db, 'chaos_done')) >= total, 120_000)
        await until('the queue is empty', async () => (await count(db, 'mortar_job')) === 0, 30_000)
        await stopAll(three)
        expect(await count(db, 'chaos_done')).toBe(total)
        // A job runs twice only when its lease expired: here, only a job the killed worker had
        // run (its result written, its completion not yet) and that a survivor took over.
        const { rows } = await sql<{ worker: string }>`
        select d.worker from chaos_dup as u join chaos_done as d on d.id = u.id`.execute(db)
        expect(new Set(rows.map((row) => row.worker))).toEqual(
          new Set(rows.length === 0 ? [] : [`pid-${victim.child.pid}`]),
        )
        expect(rows.length).toBe(await count(db, 'chaos_dup'))
        await sql`delete from chaos_dup`.execute(db)
      }, 200_000)

      it('runs a job again after its worker is killed with SIGKILL mid-job, and nothing is lost', async () => {
        const jobs = app.resolve(JOBS)
        const id = (await jobs.enqueue(slow, {})) as string
        const settings = { leaseMs: 1_000, slowMs: 60_000 }
        const pair = await Promise.all([
          startWorker(target.url, settings),
          startWorker(target.url, settings),
        ])
        workers.push(...pair)
        await until('the job started', async () => (await count(db, 'chaos_started')) >= 1, 30_000)
        const { rows } = await sql<{ pid: number }>`select pid from chaos_started`.execute(db)
        const victim = pair.find((worker) => worker.child.pid === Number(rows[0]?.pid)) as Worker
        victim.child.kill('SIGKILL')
        expect(await victim.exited).toBe('SIGKILL')
        await until(
          'the job ran to the end elsewhere',
          async () =>
            (await sql`select id from chaos_done where id = ${id}`.execute(db)).rows.length === 1,
          30_000,
        )
        const starts = await sql<{ pid: number; attempt: number }>`
        select pid, attempt from chaos_started order by attempt`.execute(db)
        expect(starts.rows.map((row) => Number(row.attempt))).toEqual([1, 2])
        expect(Number(starts.rows[1]?.pid)).not.toBe(victim.child.pid)
        await stopAll(pair)
        expect(await count(db, 'mortar_job')).toBe(0)
      }, 60_000)

      it('fires a schedule once per tick with three processes over 20 ticks', async () => {
        const tickMs = 300
        const three = await Promise.all(
          [0, 1, 2].map(() => startWorker(target.url, { tickMs, pollMs: 50 })),
        )
        workers.push(...three)
        await until('20 ticks fired', async () => (await count(db, 'chaos_tick')) >= 21, 60_000)
        await stopAll(three)
        const { rows } = await sql<{ id: string }>`select id from chaos_tick`.execute(db)
        const ticks = rows.map((row) => Number(row.id)).sort((a, b) => a - b)
        const first = ticks[0] as number
        // Every tick from the first one on, each once: none skipped, none twice.
        expect(ticks).toEqual(ticks.map((_, n) => first + n * tickMs))
        expect(ticks.length).toBeGreaterThanOrEqual(20)
        expect(await count(db, 'chaos_dup')).toBe(0)
      }, 90_000)
    },
  )
}
