// Helpers every bench shares: a server under test in a child process, and autocannon runs
// against it from this process, so the load generator never shares the server's event loop.
import { fork } from 'node:child_process'
import autocannon from 'autocannon'

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

/** Loads `url` for `seconds`; resolves to the requests per second and the requests sent. */
export async function load(url, seconds, connections = settings.connections) {
  const result = await autocannon({ url, connections, duration: seconds, pipelining: 1 })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses and ${result.errors} errors`)
  }
  return { rate: result.requests.average, requests: result.requests.total }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/**
 * Compares variants served by their own child processes: warms each up, then measures them in
 * interleaved rounds (the order flips every round so none always runs first). Resolves, by
 * variant name, to the mean and per-round requests per second, the median server CPU time per
 * request in microseconds, and the median over rounds of its rate divided by the first variant's
 * rate in the same round: a burst of other load on the machine hits both sides of a round, so
 * that ratio moves much less than either rate.
 */
export async function compare(variants) {
  const servers = []
  try {
    for (const variant of variants) {
      const server = await startServer(variant.script, variant.args)
      servers.push({ ...variant, ...server, rates: [], cpuPerRequest: [] })
    }
    for (const server of servers) await load(server.url, settings.warmupSeconds)
    for (let round = 0; round < settings.rounds; round += 1) {
      const order = round % 2 === 0 ? servers : [...servers].reverse()
      for (const server of order) {
        const before = await server.cpuMicros()
        const { rate, requests } = await load(server.url, settings.durationSeconds)
        const after = await server.cpuMicros()
        server.rates.push(rate)
        server.cpuPerRequest.push((after - before) / requests)
      }
    }
    const [first] = servers
    return Object.fromEntries(
      servers.map((server) => [
        server.name,
        {
          rate: server.rates.reduce((sum, value) => sum + value, 0) / server.rates.length,
          rates: server.rates,
          cpuPerRequest: median(server.cpuPerRequest),
          ratioToFirst: median(server.rates.map((rate, round) => rate / first.rates[round])),
        },
      ]),
    )
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
}

/** Formats a requests-per-second figure for the console. */
export function formatRate(value) {
  return `${Math.round(value).toLocaleString('en-US')} req/s`
}
