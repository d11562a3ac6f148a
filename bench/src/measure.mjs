// Helpers every bench shares: the servers a bench runs against, private databases on them,
// interleaved rounds and their ratios, closed-loop clients, and a server under test in a child
// process that autocannon loads from this process, so the load generator never shares the
// server's event loop.
import { fork } from 'node:child_process'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { privateDatabaseUrl } from '@mortar/core/testing'
import autocannon from 'autocannon'

const require = createRequire(import.meta.url)

/** The servers benches use: MORTAR_BENCH_*_URL, else MORTAR_TEST_*_URL, else the local one. */
export const servers = {
  postgres:
    process.env.MORTAR_BENCH_POSTGRES_URL ??
    process.env.MORTAR_TEST_POSTGRES_URL ??
    'postgres://postgres@127.0.0.1:5432/test',
  mysql:
    process.env.MORTAR_BENCH_MYSQL_URL ??
    process.env.MORTAR_TEST_MYSQL_URL ??
    'mysql://root@127.0.0.1:3306/test',
  redis:
    process.env.MORTAR_BENCH_REDIS_URL ??
    process.env.MORTAR_TEST_REDIS_URL ??
    'redis://127.0.0.1:6379',
}

/**
 * A private database for one run (a SQLite file, a PostgreSQL schema, a MariaDB database) on
 * `baseUrl` (default: the engine's server above), through @mortar/core/testing; `drop()` removes it.
 */
export function privateDatabase(engine, baseUrl = servers[engine]) {
  return privateDatabaseUrl({ engine, baseUrl })
}

/** Bench settings, overridable from the environment for a quick or a long run. */
export const settings = {
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  warmupSeconds: Number(process.env.BENCH_WARMUP ?? 3),
  durationSeconds: Number(process.env.BENCH_DURATION ?? 2),
  rounds: Number(process.env.BENCH_ROUNDS ?? 10),
}

/**
 * Forks `script` with `args`; the child listens on a free loopback port and calls `ready()` from
 * serve-child.mjs. Resolves to its base URL, a function reading its CPU time (microseconds, user +
 * system) and a function that stops it.
 */
export function startServer(script, args = []) {
  const child = fork(script, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) =>
      reject(new Error(`${script} ${args.join(' ')} exited with ${code}`)),
    )
    child.once('message', (message) => {
      child.removeAllListeners('exit')
      resolve({
        url: `http://127.0.0.1:${message.port}`,
        cpuMicros: () =>
          new Promise((done) => {
            child.once('message', ({ cpu }) => done(cpu.user + cpu.system))
            child.send('cpu')
          }),
        stop: () =>
          new Promise((done) => {
            child.once('exit', () => done())
            child.kill('SIGTERM')
          }),
      })
    })
  })
}

/**
 * Loads `url` for `seconds` with `connections` (default {@link settings}) sending `headers`;
 * resolves to the requests per second and the requests sent.
 */
export async function load(url, seconds, { connections = settings.connections, headers } = {}) {
  const result = await autocannon({ url, connections, headers, duration: seconds, pipelining: 1 })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses and ${result.errors} errors`)
  }
  return { rate: result.requests.average, requests: result.requests.total }
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/** The value below which a fraction `p` of `values` lies. */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(values.length - 1, Math.floor(values.length * p))]
}

/**
 * The median over rounds of `values[round] / baseline[round]`: both sides of a round met the
 * same load on the machine, so this moves much less than either rate.
 */
export function medianRatio(values, baseline) {
  return median(values.map((value, round) => value / baseline[round]))
}

/**
 * Warms up (by default each of `variants`, name → async function resolving to a figure, once),
 * then runs them in `rounds` interleaved rounds, the order flipping each round so none always
 * runs first; `afterRound` runs after each round (to reset tables). Resolves, by name, to the
 * figures.
 */
export async function interleave(variants, { rounds, warmUp, afterRound }) {
  const entries = Object.entries(variants)
  if (warmUp) await warmUp()
  else for (const [, one] of entries) await one()
  const figures = Object.fromEntries(entries.map(([name]) => [name, []]))
  for (let round = 0; round < rounds; round += 1) {
    for (const [name, one] of round % 2 === 0 ? entries : [...entries].reverse()) {
      figures[name].push(await one())
    }
    await afterRound?.()
  }
  return figures
}

/**
 * `clients` closed-loop clients sharing `total` calls of `one(client, call)`, each client waiting
 * for its call before the next; resolves to calls per second.
 */
export async function throughput(clients, total, one) {
  const started = performance.now()
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let call = client; call < total; call += clients) await one(client, call)
    }),
  )
  return total / ((performance.now() - started) / 1_000)
}

/** Formats a rate for the console: `1,234/s`. */
export function perSecond(value) {
  return `${Math.round(value).toLocaleString('en-US')}/s`
}

/** The verdict printed after a figure: `(goal … met)` or `(BELOW the goal …)`. */
export function verdict(ok, goal) {
  return ok ? `(goal ${goal} met)` : `(BELOW the goal ${goal})`
}

/**
 * Compares variants served by their own child processes: starts each, then measures them as
 * {@link compareServers} does, and stops them.
 */
export async function compare(variants) {
  const started = []
  try {
    for (const variant of variants) {
      started.push({ ...variant, ...(await startServer(variant.script, variant.args)) })
    }
    return await compareServers(started)
  } finally {
    await Promise.all(started.map((server) => server.stop()))
  }
}

/**
 * Compares servers already started with {@link startServer} (each `{ name, url, cpuMicros }`, with
 * optional request `headers`): warms each up, then measures them in interleaved rounds (the order
 * flips every round so none always runs first). Resolves, by name, to the mean and per-round
 * requests per second, the median server CPU time per request in microseconds, and the median
 * over rounds of its rate divided by the first server's rate in the same round: a burst of other
 * load on the machine hits both sides of a round, so that ratio moves much less than either rate.
 */
export async function compareServers(servers) {
  const measured = servers.map((server) => ({ ...server, rates: [], cpuPerRequest: [] }))
  const options = (server) => ({ headers: server.headers })
  for (const server of measured) await load(server.url, settings.warmupSeconds, options(server))
  for (let round = 0; round < settings.rounds; round += 1) {
    const order = round % 2 === 0 ? measured : [...measured].reverse()
    for (const server of order) {
      const before = await server.cpuMicros()
      const { rate, requests } = await load(server.url, settings.durationSeconds, options(server))
      const after = await server.cpuMicros()
      server.rates.push(rate)
      server.cpuPerRequest.push((after - before) / requests)
    }
  }
  const [first] = measured
  return Object.fromEntries(
    measured.map((server) => [
      server.name,
      {
        rate: server.rates.reduce((sum, value) => sum + value, 0) / server.rates.length,
        rates: server.rates,
        cpuPerRequest: median(server.cpuPerRequest),
        ratioToFirst: medianRatio(server.rates, first.rates),
      },
    ]),
  )
}

/** Formats a requests-per-second figure for the console. */
export function formatRate(value) {
  return `${Math.round(value).toLocaleString('en-US')} req/s`
}

/** Counts the statements every node-postgres client of this process sends from now on. */
export function countStatements() {
  const { Client } = require('pg')
  const query = Client.prototype.query
  const counter = { count: 0 }
  Client.prototype.query = function (...args) {
    counter.count += 1
    return query.apply(this, args)
  }
  return counter
}
