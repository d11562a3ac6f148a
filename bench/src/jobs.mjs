// Background jobs, no-op handlers, against what a team would pick instead, in one run with
// interleaved rounds (each ratio is the median of per-round ratios):
// - PostgreSQL processing and enqueue against graphile-worker in its tuned configuration
//   (local queue of 500, batched completion), on the same database;
// - a request transaction with and without an enqueue;
// - commit-to-handler latency (p50, p99);
// - SQLite processing throughput (absolute goal);
// - MariaDB with 24 concurrent workers against 10.
// Servers: MORTAR_BENCH_POSTGRES_URL / MORTAR_TEST_POSTGRES_URL and the MySQL equivalents,
// defaulting to the local ones; every run uses private schemas/databases and drops them.
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import {
  afterCommit,
  createApp,
  createLogger,
  DATABASE,
  defineJob,
  defineModule,
  JOBS,
  transaction,
} from '@mortar/core'
import { z } from 'zod'
import { rawRequest } from './jobs-raw-request.mjs'
import {
  countStatements,
  interleave,
  median,
  medianRatio,
  percentile,
  perSecond as rate,
  privateDatabase,
  servers,
  throughput,
  verdict,
} from './measure.mjs'

const ROUNDS = Number(process.env.BENCH_JOBS_ROUNDS ?? 3)
const JOBS_PER_ROUND = Number(process.env.BENCH_JOBS_N ?? 20_000)
const ENQUEUES = Number(process.env.BENCH_JOBS_ENQUEUES ?? 4_000)
const TX_OPS = Number(process.env.BENCH_JOBS_TX ?? 3_000)
const TX_SLICE = 320
// `request`: only the request transaction, on PostgreSQL, SQLite and MariaDB; `mariadb`: only
// MariaDB's 24 workers against 10; `processing`: only PostgreSQL processing against
// graphile-worker, with what each side costs per job.
const ONLY = process.env.BENCH_JOBS_ONLY
const TITLES = { sqlite: 'SQLite', postgres: 'PostgreSQL', mysql: 'MariaDB' }
const BARE_DRIVERS = {
  sqlite: 'node:sqlite, prepared',
  postgres: 'node-postgres, 16 connections, prepared',
  mysql: 'mysql2, 16 connections',
}
const LATENCY_SAMPLES = Number(process.env.BENCH_JOBS_LATENCY ?? 400)
const CLIENTS = 16
const POSTGRES = servers.postgres
const silent = createLogger({ level: 'silent' })

/**
 * CPU time (µs) the PostgreSQL server's processes used, ended ones included (the postmaster's
 * reaped children), read from Linux's /proc: the server must run on this machine, and other
 * clients' work on it counts too. Undefined where there is no /proc.
 */
function serverCpuMicros() {
  let ticks = 0
  let pids
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return undefined
  }
  for (const pid of pids) {
    let stat
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    } catch {
      continue
    }
    const close = stat.lastIndexOf(')')
    if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue
    // Fields after the name: state, ppid, ..., utime (12th), stime, cutime, cstime.
    const fields = stat.slice(close + 2).split(' ')
    for (let i = 11; i <= 14; i++) ticks += Number(fields[i])
  }
  // Linux's USER_HZ is 100 on every common build.
  return ticks * 10_000
}

/** Runs `measure` (resolving to a rate), and what it cost per job: server and client CPU, statements. */
async function costed(measure, statements, n) {
  const server = serverCpuMicros()
  const client = process.cpuUsage()
  const sent = statements.count
  const rate = await measure()
  const used = process.cpuUsage(client)
  return {
    rate,
    serverUs: server === undefined ? Number.NaN : (serverCpuMicros() - server) / n,
    clientUs: (used.user + used.system) / n,
    statements: (statements.count - sent) / n,
  }
}

/** A counter the no-op handler bumps; `reached(n)` resolves when it gets there. */
function counter() {
  let count = 0
  let waiting
  return {
    bump() {
      count += 1
      if (waiting !== undefined && count >= waiting.n) waiting.resolve()
    },
    reset() {
      count = 0
    },
    get count() {
      return count
    },
    reached(n) {
      if (count >= n) return Promise.resolve()
      return new Promise((resolve) => {
        waiting = { n, resolve }
      })
    },
  }
}

const done = counter()
const noop = defineJob({
  name: 'bench.noop',
  schema: z.object({ n: z.number() }),
  handler: () => done.bump(),
})
let latencyStart = 0
const latencies = []
const stamp = defineJob({
  name: 'bench.stamp',
  schema: z.object({}),
  handler: () => {
    latencies.push(performance.now() - latencyStart)
    done.bump()
  },
})
const jobsModule = defineModule({ name: 'bench', register() {}, jobs: [noop, stamp] })

function mortarApp(url, workers) {
  return createApp({ database: url, logger: silent, modules: [jobsModule], jobs: { workers } })
}

async function enqueueAll(app, n) {
  const jobs = app.resolve(JOBS)
  for (let start = 0; start < n; start += 1_000) {
    await jobs.enqueueMany(
      noop,
      Array.from({ length: Math.min(1_000, n - start) }, (_, i) => ({ payload: { n: start + i } })),
    )
  }
}

/** Processing rate of an app whose workers start on a full queue. */
async function mortarProcessing(url, n, workers, observe = (work) => work()) {
  const loader = mortarApp(url, false)
  await loader.start()
  await enqueueAll(loader, n)
  await loader.stop()
  return observe(async () => {
    done.reset()
    const app = mortarApp(url, workers)
    const started = performance.now()
    await app.start()
    await done.reached(n)
    const seconds = (performance.now() - started) / 1_000
    await app.stop()
    return n / seconds
  })
}

async function postgres() {
  const { Logger, run, makeWorkerUtils } = await import('graphile-worker')
  const quiet = new Logger(() => () => undefined)
  const target = await privateDatabase('postgres')
  const pooled = new URL(target.url)
  pooled.searchParams.set('pool', '26')
  const databaseUrl = pooled.toString()
  const gwSchema = `gw_bench_${randomBytes(4).toString('hex')}`
  // graphile-worker's own tuned settings (its performance docs): a local queue that locks 500
  // jobs per fetch, completions and failures batched, 24 concurrent jobs.
  const tuned = {
    connectionString: POSTGRES,
    schema: gwSchema,
    concurrentJobs: 24,
    maxPoolSize: 26,
    pollInterval: 1_000,
    localQueue: { size: 500 },
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
  }
  const utils = await makeWorkerUtils({
    connectionString: POSTGRES,
    schema: gwSchema,
    logger: quiet,
  })
  await utils.migrate()
  const migrator = mortarApp(databaseUrl, false)
  await migrator.migrate()
  await migrator.start()
  const mortarWorkers = { concurrency: 24, batchSize: 500 }

  const graphileProcessing = async (n, observe = (work) => work()) => {
    for (let start = 0; start < n; start += 1_000) {
      await utils.addJobs(
        Array.from({ length: Math.min(1_000, n - start) }, (_, i) => ({
          identifier: 'noop',
          payload: { n: start + i },
        })),
      )
    }
    return observe(async () => {
      done.reset()
      const started = performance.now()
      const runner = await run({
        noHandleSignals: true,
        logger: quiet,
        taskList: { noop: async () => done.bump() },
        preset: { worker: tuned },
      })
      await done.reached(n)
      const seconds = (performance.now() - started) / 1_000
      await runner.stop()
      return n / seconds
    })
  }

  const mortarEnqueue = async () => {
    const jobs = migrator.resolve(JOBS)
    const value = await throughput(CLIENTS, ENQUEUES, (_, n) => jobs.enqueue(noop, { n }))
    await jobs.purge(['pending'])
    return value
  }
  const graphileEnqueue = async () => {
    const value = await throughput(CLIENTS, ENQUEUES, (_, n) => utils.addJob('noop', { n }))
    await utils.withPgClient((client) => client.query(`delete from ${gwSchema}._private_jobs`))
    return value
  }

  const processing = { mortar: [], graphile: [] }
  const enqueue = { mortar: [], graphile: [] }
  try {
    // Warm-up: both paths once, small.
    await mortarProcessing(databaseUrl, 2_000, mortarWorkers)
    await graphileProcessing(2_000)
    if (ONLY === 'processing') {
      await processingCosts(
        (observe) => mortarProcessing(databaseUrl, JOBS_PER_ROUND, mortarWorkers, observe),
        (observe) => graphileProcessing(JOBS_PER_ROUND, observe),
      )
      return
    }
    for (let round = 0; round < ROUNDS; round++) {
      const pair = [
        ['mortar', () => mortarProcessing(databaseUrl, JOBS_PER_ROUND, mortarWorkers)],
        ['graphile', () => graphileProcessing(JOBS_PER_ROUND)],
      ]
      for (const [name, measure] of round % 2 === 0 ? pair : pair.reverse()) {
        processing[name].push(await measure())
      }
      const adds = [
        ['mortar', mortarEnqueue],
        ['graphile', graphileEnqueue],
      ]
      for (const [name, measure] of round % 2 === 0 ? adds : adds.reverse()) {
        enqueue[name].push(await measure())
      }
    }
    report(
      'PostgreSQL processing, no-op jobs',
      processing,
      'graphile-worker (tuned)',
      1.0,
      '>= 1.0× (aim 1.5×)',
    )
    report(
      `PostgreSQL enqueue, ${CLIENTS} clients one job per call`,
      enqueue,
      'graphile-worker addJob',
      1.5,
      '>= 1.5×',
    )
    await requestTransaction(migrator, 'postgres')
    await rawCeiling('postgres')
    await latency(databaseUrl)
  } finally {
    await migrator.stop()
    await utils.withPgClient((client) => client.query(`drop schema if exists ${gwSchema} cascade`))
    await utils.release()
    await target.drop()
  }
}

/**
 * PostgreSQL processing alone, each round also costed per job: the server's CPU, this
 * process's CPU and the statements sent.
 */
async function processingCosts(mortar, graphile) {
  const statements = countStatements()
  const rounds = { mortar: [], graphile: [] }
  for (let round = 0; round < ROUNDS; round++) {
    const pair = [
      ['mortar', mortar],
      ['graphile', graphile],
    ]
    for (const [name, measure] of round % 2 === 0 ? pair : pair.reverse()) {
      rounds[name].push(await measure((work) => costed(work, statements, JOBS_PER_ROUND)))
    }
  }
  const rates = {
    mortar: rounds.mortar.map((cost) => cost.rate),
    graphile: rounds.graphile.map((cost) => cost.rate),
  }
  report(
    'PostgreSQL processing, no-op jobs',
    rates,
    'graphile-worker (tuned)',
    1.0,
    '>= 1.0× (aim 1.5×)',
  )
  for (const [name, costs] of Object.entries(rounds)) {
    const each = (field, digits) => costs.map((cost) => cost[field].toFixed(digits)).join(', ')
    console.log(
      `  ${name}: jobs/s ${each('rate', 0)}; server CPU µs/job ${each('serverUs', 1)}; client CPU µs/job ${each('clientUs', 1)}; statements/job ${each('statements', 3)}`,
    )
  }
}

function report(title, rates, anchor, goal, goalText) {
  const ratio = medianRatio(rates.mortar, rates.graphile)
  console.log(
    `${title}: Mortar ${rate(median(rates.mortar))}, ${anchor} ${rate(median(rates.graphile))}, ratio ${ratio.toFixed(2)} ${verdict(ratio >= goal, goalText)}`,
  )
}

/**
 * A transfer between two accounts, with and without an enqueue in the same transaction; and, for
 * scale, with the enqueue's INSERT written by hand (the same row, no validation, no wake-up).
 */
async function requestTransaction(app, engine) {
  const database = app.resolve(DATABASE)
  const db = database.kysely
  await database.root.schema
    .createTable('bench_account')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('balance', 'integer', (c) => c.notNull())
    .execute()
  await database.root
    .insertInto('bench_account')
    .values(Array.from({ length: CLIENTS * 2 }, (_, id) => ({ id, balance: 1_000_000 })))
    .execute()
  const jobs = app.resolve(JOBS)
  const byHand = (n) => {
    const now = Date.now()
    const insert = db.insertInto('mortar_job').values({
      name: noop.name,
      payload: JSON.stringify({ n }),
      dedup_key: null,
      run_at: now,
      max_attempts: noop.attempts,
      created_at: now,
    })
    return (engine === 'mysql' ? insert.ignore() : insert.onConflict((c) => c.doNothing()))
      .returning(['id', 'dedup_key'])
      .execute()
  }
  const transfer = async (from, to, extra) =>
    transaction(
      async () => {
        const row = await db
          .selectFrom('bench_account')
          .select('balance')
          .where('id', '=', from)
          .executeTakeFirstOrThrow()
        await db
          .updateTable('bench_account')
          .set({ balance: row.balance - 1 })
          .where('id', '=', from)
          .execute()
        await db
          .updateTable('bench_account')
          .set((eb) => ({ balance: eb('balance', '+', 1) }))
          .where('id', '=', to)
          .execute()
        if (extra === 'enqueue') await jobs.enqueue(noop, { n: from })
        else if (extra === 'byHand') await byHand(from)
      },
      { database },
    )
  // Short slices, the order rotating, so every side meets the same load on a shared machine.
  const sides = ['enqueue', 'without', 'byHand']
  const measure = (side, count) =>
    throughput(CLIENTS, count, (c) => transfer(c * 2, c * 2 + 1, side))
  const rates = { enqueue: [], without: [], byHand: [] }
  for (const side of sides) await measure(side, TX_SLICE)
  for (let round = 0; round < Math.ceil(TX_OPS / TX_SLICE) * ROUNDS; round++) {
    for (let i = 0; i < sides.length; i++) {
      const side = sides[(round + i) % sides.length]
      rates[side].push(await measure(side, TX_SLICE))
    }
    await jobs.purge(['pending'])
  }
  const ratio = medianRatio(rates.enqueue, rates.without)
  console.log(
    `${TITLES[engine]} request transaction (a read and two writes, ${CLIENTS} clients): with an enqueue ${rate(median(rates.enqueue))}, without ${rate(median(rates.without))}, ratio ${ratio.toFixed(2)} ${verdict(ratio >= 0.9, '>= 0.9×')}`,
  )
  console.log(
    `          for scale: the same INSERT by hand ${rate(median(rates.byHand))}, ratio ${medianRatio(rates.byHand, rates.without).toFixed(2)}; enqueue / by hand ${medianRatio(rates.enqueue, rates.byHand).toFixed(2)}`,
  )
}

/** The request transaction on its own app, on a private database of `engine`. */
async function requestOn(engine) {
  const target = await privateDatabase(engine)
  try {
    const app = mortarApp(target.url, false)
    await app.migrate()
    await app.start()
    try {
      await requestTransaction(app, engine)
    } finally {
      await app.stop()
    }
    await rawCeiling(engine)
  } finally {
    await target.drop()
  }
}

/** The same transaction on the bare driver, into the migrated table: what any enqueue can reach. */
async function rawCeiling(engine) {
  const target = await privateDatabase(engine)
  try {
    const migrator = mortarApp(target.url, false)
    await migrator.migrate()
    await migrator.stop()
    const sides = await rawRequest(engine, target.url, {
      rounds: ROUNDS * 3,
      slice: engine === 'sqlite' ? 10_000 : engine === 'postgres' ? 2_000 : 1_280,
    })
    console.log(
      `          the bare driver's ceiling (${BARE_DRIVERS[engine]}), per transaction without the INSERT: ${sides
        .filter((side) => side.name !== 'without')
        .map((side) => `${side.name} ${side.ratio.toFixed(2)}`)
        .join(', ')}`,
    )
  } finally {
    await target.drop()
  }
}

/** From the commit of a transaction that enqueued to the start of the handler, in-process. */
async function latency(url) {
  const app = mortarApp(url, { concurrency: 10, batchSize: 50 })
  await app.start()
  const jobs = app.resolve(JOBS)
  latencies.length = 0
  try {
    for (let i = 0; i < LATENCY_SAMPLES + 50; i++) {
      done.reset()
      await transaction(async () => {
        // Registered before the enqueue's own wake-up: it stamps the moment of the commit.
        await afterCommit(() => {
          latencyStart = performance.now()
        })
        await jobs.enqueue(stamp, {})
      })
      await done.reached(1)
    }
  } finally {
    await app.stop()
  }
  const samples = latencies.slice(50)
  const p50 = percentile(samples, 0.5)
  const p99 = percentile(samples, 0.99)
  console.log(
    `PostgreSQL commit to handler start (${samples.length} jobs one at a time): p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms ${verdict(p50 <= 3 && p99 <= 10, 'p50 <= 3 ms, p99 <= 10 ms')}`,
  )
}

async function sqlite() {
  const target = await privateDatabase('sqlite')
  const url = target.url
  try {
    const migrator = mortarApp(url, false)
    await migrator.migrate()
    await migrator.stop()
    const workers = { concurrency: 100, batchSize: 500 }
    await mortarProcessing(url, 5_000, workers)
    const rates = []
    for (let round = 0; round < ROUNDS; round++) {
      rates.push(await mortarProcessing(url, JOBS_PER_ROUND * 2, workers))
    }
    const value = median(rates)
    console.log(
      `SQLite processing, no-op jobs through the real code path: ${rate(value)} ${verdict(value >= 20_000, '>= 20,000/s (aim 50,000/s)')}`,
    )
  } finally {
    await target.drop()
  }
}

async function mariadb() {
  const target = await privateDatabase('mysql')
  const url = new URL(target.url)
  url.searchParams.set('pool', '3')
  try {
    const migrator = mortarApp(url.toString(), false)
    await migrator.migrate()
    await migrator.stop()
    // Each worker is an app of its own (its own pool), as a process would be.
    const workers = async (count) => {
      const loader = mortarApp(url.toString(), false)
      await loader.start()
      await enqueueAll(loader, JOBS_PER_ROUND)
      await loader.stop()
      done.reset()
      const apps = Array.from({ length: count }, () =>
        mortarApp(url.toString(), { concurrency: 10, batchSize: 100 }),
      )
      await Promise.all(apps.map((app) => app.start()))
      // Timed once every worker runs: starting 24 apps (their pools, their connections) takes
      // longer than starting 10 and is not processing. Jobs done meanwhile are not counted.
      const started = performance.now()
      const before = done.count
      await done.reached(JOBS_PER_ROUND)
      const value = (JOBS_PER_ROUND - before) / ((performance.now() - started) / 1_000)
      await Promise.all(apps.map((app) => app.stop()))
      return value
    }
    const rates = await interleave(
      { many: () => workers(24), few: () => workers(10) },
      { rounds: ROUNDS, warmUp: () => workers(4) },
    )
    const ratio = medianRatio(rates.many, rates.few)
    console.log(
      `MariaDB processing: 24 workers ${rate(median(rates.many))}, 10 workers ${rate(median(rates.few))}, ratio ${ratio.toFixed(2)} ${verdict(ratio >= 0.8, '>= 0.8×')}`,
    )
  } finally {
    await target.drop()
  }
}

export async function run() {
  console.log(
    `Background jobs (${ROUNDS} interleaved rounds, ${JOBS_PER_ROUND.toLocaleString('en-US')} jobs a round)`,
  )
  if (ONLY === 'request') {
    for (const engine of ['postgres', 'sqlite', 'mysql']) await requestOn(engine)
    return
  }
  if (ONLY === 'mariadb') {
    await mariadb()
    return
  }
  if (ONLY === 'processing') {
    await postgres()
    return
  }
  await postgres()
  await sqlite()
  await requestOn('sqlite')
  await mariadb()
  await requestOn('mysql')
}

if (import.meta.url === `file://${process.argv[1]}`) await run()
