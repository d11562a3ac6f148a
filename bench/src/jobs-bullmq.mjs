// The BullMQ engine against raw BullMQ, no-op jobs, in one run with interleaved rounds (each
// ratio is the median of per-round ratios), on the same Redis:
// - processing: workers started on a full queue, same concurrency, until every job ran;
// - relay: moving jobs already committed to the PostgreSQL outbox into BullMQ (select, addBulk
//   under the row ids, delete), against raw `addBulk` of the same jobs.
// Servers: MORTAR_BENCH_POSTGRES_URL / MORTAR_TEST_POSTGRES_URL and MORTAR_BENCH_REDIS_URL /
// MORTAR_TEST_REDIS_URL, defaulting to the local ones; private schema and key prefix, dropped.
import { performance } from 'node:perf_hooks'
import { createApp, createLogger, DATABASE, defineJob, defineModule, JOBS } from '@mortar/core'
import { deleteRedisKeys, privateRedisPrefix } from '@mortar/core/testing'
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { z } from 'zod'
import {
  median,
  medianRatio,
  perSecond as rate,
  privateDatabase,
  servers,
  verdict,
} from './measure.mjs'

const ROUNDS = Number(process.env.BENCH_BULLMQ_ROUNDS ?? 3)
const N = Number(process.env.BENCH_BULLMQ_N ?? 20_000)
export const CONCURRENCY = 50
const REDIS = servers.redis
const silent = createLogger({ level: 'silent' })

let count = 0
let waiting
const bump = () => {
  count += 1
  if (waiting !== undefined && count >= waiting.n) waiting.resolve()
}
const reached = (n) =>
  count >= n ? Promise.resolve() : new Promise((resolve) => (waiting = { n, resolve }))

const noop = defineJob({ name: 'bench.noop', schema: z.object({ n: z.number() }), handler: bump })
const jobsModule = defineModule({ name: 'bench', register() {}, jobs: [noop] })

function mortarApp(url, prefix, workers) {
  return createApp({
    database: url,
    redis: { url: REDIS, prefix },
    logger: silent,
    modules: [jobsModule],
    jobs: { engine: 'bullmq', workers },
  })
}

/** Commits `n` jobs to the outbox with workers off, relaying them (or not) to BullMQ. */
async function loadOutbox(app, n, relay) {
  const database = app.resolve(DATABASE)
  const now = Date.now()
  for (let start = 0; start < n; start += 1_000) {
    const rows = Array.from({ length: Math.min(1_000, n - start) }, (_, i) => ({
      name: noop.name,
      payload: JSON.stringify({ n: start + i }),
      run_at: now,
      max_attempts: noop.attempts,
      created_at: now,
    }))
    await database.root.insertInto('mortar_job').values(rows).execute()
  }
  if (relay) await app.resolve(JOBS).adapter.announce()
}

/**
 * Core's BullMQ engine's no-op processing rate: `total` jobs committed to the outbox and relayed
 * with workers off, then an app with workers of {@link CONCURRENCY} started on the full queue
 * until every job ran; `window` (bench:notify-bullmq-cpu's CPU probe) hears when the timed part
 * starts and ends.
 */
export async function mortarProcessing(url, prefix, total = N, window = undefined) {
  const loader = mortarApp(url, prefix, false)
  await loader.start()
  await loadOutbox(loader, total, true)
  await loader.stop()
  count = 0
  const app = mortarApp(url, prefix, { concurrency: CONCURRENCY, batchSize: CONCURRENCY })
  await window?.start()
  const started = performance.now()
  await app.start()
  await reached(total)
  const seconds = (performance.now() - started) / 1_000
  await window?.end()
  await app.stop()
  return total / seconds
}

function rawJobs(round, total = N) {
  const now = Date.now()
  return Array.from({ length: total }, (_, n) => ({
    name: 'bench.noop',
    data: { p: JSON.stringify({ n }), m: 3, k: null, c: now },
    opts: { jobId: `r${round}-${n}`, removeOnComplete: true, removeOnFail: false },
  }))
}

async function rawAdd(queue, jobs) {
  for (let start = 0; start < jobs.length; start += 1_000) {
    await queue.addBulk(jobs.slice(start, start + 1_000))
  }
}

/**
 * Raw BullMQ's no-op processing rate: `total` jobs added under `prefix`, then a worker of
 * {@link CONCURRENCY} started on the full queue until every job ran; `window` as in
 * {@link mortarProcessing}.
 */
export async function rawProcessing(connection, prefix, round, total = N, window = undefined) {
  const queue = new Queue('raw', { connection, prefix })
  await rawAdd(queue, rawJobs(round, total))
  count = 0
  await window?.start()
  const started = performance.now()
  // BullMQ leaves a connection it was given open: this one is quit below.
  const workerConnection = connection.duplicate({ maxRetriesPerRequest: null })
  const worker = new Worker('raw', async () => bump(), {
    connection: workerConnection,
    prefix,
    concurrency: CONCURRENCY,
  })
  await reached(total)
  const seconds = (performance.now() - started) / 1_000
  await window?.end()
  await worker.close()
  await workerConnection.quit()
  await queue.close()
  return total / seconds
}

async function mortarRelay(url, prefix) {
  const app = mortarApp(url, prefix, false)
  await app.start()
  await loadOutbox(app, N, false)
  const started = performance.now()
  await app.resolve(JOBS).adapter.announce()
  const seconds = (performance.now() - started) / 1_000
  await app.resolve(JOBS).purge(['pending'])
  await app.stop()
  return N / seconds
}

async function rawRelay(connection, prefix, round) {
  const queue = new Queue('raw-relay', { connection, prefix })
  const jobs = rawJobs(round)
  const started = performance.now()
  await rawAdd(queue, jobs)
  const seconds = (performance.now() - started) / 1_000
  await queue.obliterate({ force: true })
  await queue.close()
  return N / seconds
}

export async function run() {
  console.log(
    `BullMQ engine against raw BullMQ (${ROUNDS} interleaved rounds, ${N.toLocaleString('en-US')} no-op jobs, concurrency ${CONCURRENCY}, PostgreSQL outbox)`,
  )
  const database = await privateDatabase('postgres')
  const prefix = privateRedisPrefix()
  const connection = new Redis(REDIS)
  try {
    const migrator = mortarApp(database.url, prefix, false)
    await migrator.migrate()
    await migrator.stop()
    const results = { mortarRun: [], rawRun: [], mortarRelay: [], rawRelay: [] }
    for (let round = 0; round < ROUNDS; round++) {
      results.rawRun.push(await rawProcessing(connection, `${prefix}raw`, round))
      results.mortarRun.push(await mortarProcessing(database.url, prefix))
      results.rawRelay.push(await rawRelay(connection, `${prefix}raw`, round))
      results.mortarRelay.push(await mortarRelay(database.url, prefix))
    }
    const run = medianRatio(results.mortarRun, results.rawRun)
    const relay = medianRatio(results.mortarRelay, results.rawRelay)
    console.log(
      `  processing: Mortar ${rate(median(results.mortarRun))}, raw BullMQ ${rate(median(results.rawRun))}: ${run.toFixed(2)}x ${verdict(run >= 0.9, '0.9x')}`,
    )
    console.log(
      `  relay: outbox to BullMQ ${rate(median(results.mortarRelay))}, raw addBulk ${rate(median(results.rawRelay))}: ${relay.toFixed(2)}x ${verdict(relay >= 0.75, '0.75x')}`,
    )
  } finally {
    connection.disconnect()
    await deleteRedisKeys(REDIS, prefix)
    await database.drop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run()
