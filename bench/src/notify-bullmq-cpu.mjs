// CPU a delivery costs through notify's ledger on core's BullMQ engine against a raw BullMQ job
// doing the same no-op, and against a bare job of core's BullMQ engine: bench:notify's `bullmq`
// case measured by CPU instead of rate, which a loaded 2-core machine moves far less. Each round
// runs each side once (order flipped each round): N deliveries (or jobs) written and in BullMQ
// first, then workers of concurrency 50 started on the full queue until every one ran, the
// window bench:notify times. In that window, per delivery or job: this process's CPU
// (process.cpuUsage), Redis's (/proc/<its pid>/stat, the pid from INFO), the CPU of the
// PostgreSQL backends the app opened (found by their application_name, from /proc), the
// statements node-postgres sent and the commands Redis ran (INFO's count, every client's: keep
// the machine's Redis otherwise idle), and the window's length with how busy the main thread
// was (event loop utilization: a change that cuts CPU but leaves the worker waiting on round
// trips shows here first). The sum is what the rate costs on a CPU-bound machine:
// raw CPU / ledger CPU is the ratio the rate would have (bench:notify's goal is 0.8).
// BENCH_NOTIFY_SIDES picks sides (raw,core,ledger,ceiling: notify-raw-bullmq-ledger.mjs); BENCH_ROUNDS, BENCH_NOTIFY_JOBS as in
// bench:notify; BENCH_CPU_PROFILE=<dir> writes a V8 CPU profile of each window there
// (<side>-<round>.cpuprofile, for Chrome's DevTools), the writes before it left out.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { deleteRedisKeys, privateRedisPrefix } from '@mortar/core/testing'
import { Redis } from 'ioredis'
import pg from 'pg'
import { CONCURRENCY, mortarProcessing, rawProcessing } from './jobs-bullmq.mjs'
import { countStatements, interleave, median, privateDatabase, servers } from './measure.mjs'
import { rawBullmqLedgerSide } from './notify-raw-bullmq-ledger.mjs'
import { ledgerOnBullmqSide } from './notify.mjs'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const N = Number(process.env.BENCH_NOTIFY_JOBS ?? 5_000)
const SIDES = (process.env.BENCH_NOTIFY_SIDES ?? 'raw,core,ledger,ceiling').split(',')
const APPLICATION = `mortar-bench-bullmq-cpu-${process.pid}`
// Clock ticks a second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux).
const TICK_US = 10_000
const PROFILES = process.env.BENCH_CPU_PROFILE
// A full collection before each window: the garbage a side's writes left (notify() of every
// delivery, the relay) is otherwise collected inside whichever window comes next (a full
// mark-compact of 28-112 ms, 6-22 µs an item, in 3 of 8 windows, of either side).
setFlagsFromString('--expose-gc')
const collectGarbage = runInNewContext('gc')

/** CPU ticks (user + system) of a process so far, 0 once it ended. */
function ticksOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return 0
  }
}

/** This process's read and write system calls so far (/proc/self/io). */
function syscalls() {
  const io = readFileSync('/proc/self/io', 'utf8')
  return Number(/^syscr: (\d+)/m.exec(io)?.[1]) + Number(/^syscw: (\d+)/m.exec(io)?.[1])
}

/** Ticks by pid of the backends connected under APPLICATION. */
async function backendTicks(admin) {
  const { rows } = await admin.query(
    'select pid from pg_stat_activity where application_name = $1',
    [APPLICATION],
  )
  return new Map(rows.map(({ pid }) => [pid, ticksOf(pid)]))
}

/** Redis's count of commands run, by command (INFO commandstats), and in all. */
async function redisCommands(redis) {
  const text = await redis.info('commandstats')
  const byCommand = {}
  let total = 0
  for (const [, name, calls] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    byCommand[name] = Number(calls)
    total += Number(calls)
  }
  return { byCommand, total }
}

/**
 * A window for a side's `window` option: `start()` and `end()` read the counters, `figures()`
 * gives the last window's costs per item (µs, statements, commands).
 */
function cpuWindow({ admin, redis, redisPid, statements, items, profiler }) {
  let before
  let after
  // The main thread's event loop over the window: its busy share (below 1, the side waited
  // for round trips with nothing to run), and its length a delivery or job.
  let loop
  const read = async () => ({
    client: process.cpuUsage(),
    syscalls: syscalls(),
    redis: ticksOf(redisPid),
    backends: await backendTicks(admin),
    commands: await redisCommands(redis),
    statements: statements.count,
  })
  return {
    async start() {
      collectGarbage()
      before = await read()
      loop = performance.eventLoopUtilization()
      await profiler?.post('Profiler.start')
    },
    async end() {
      loop = performance.eventLoopUtilization(loop)
      const profile = await profiler?.post('Profiler.stop')
      after = await read()
      if (profile !== undefined) profiler.save(profile.profile)
    },
    figures() {
      const client = process.cpuUsage(before.client)
      let server = 0
      for (const [pid, ticks] of after.backends) server += ticks - (before.backends.get(pid) ?? 0)
      const commands = {}
      for (const [name, calls] of Object.entries(after.commands.byCommand)) {
        const more = calls - (before.commands.byCommand[name] ?? 0)
        // The probe's own reads (INFO) and the admin's statements are left out.
        if (more > 0 && name !== 'info') commands[name] = more / items
      }
      return {
        busy: loop.utilization,
        // eventLoopUtilization's times are in ms.
        wall: ((loop.idle + loop.active) * 1_000) / items,
        client: (client.user + client.system) / items,
        system: client.system / items,
        syscalls: (after.syscalls - before.syscalls) / items,
        redis: ((after.redis - before.redis) * TICK_US) / items,
        postgres: (server * TICK_US) / items,
        backends: after.backends.size,
        statements: (after.statements - before.statements - 1) / items,
        commands,
      }
    },
  }
}

export async function run() {
  const database = await privateDatabase('postgres')
  const url = new URL(database.url)
  url.searchParams.set('application_name', APPLICATION)
  const prefix = privateRedisPrefix()
  const connection = new Redis(servers.redis)
  const admin = new pg.Client({ connectionString: database.url })
  await admin.connect()
  const redisPid = Number(/^process_id:(\d+)/m.exec(await connection.info('server'))?.[1])
  const statements = countStatements()
  let profiler
  let name = 'warm-up'
  if (PROFILES !== undefined) {
    mkdirSync(PROFILES, { recursive: true })
    profiler = new Session()
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.setSamplingInterval', { interval: 100 })
    let saved = 0
    profiler.save = (profile) =>
      writeFileSync(`${PROFILES}/${name}-${saved++}.cpuprofile`, JSON.stringify(profile))
  }
  const window = cpuWindow({ admin, redis: connection, redisPid, statements, items: N, profiler })
  const ledger = ledgerOnBullmqSide(url.href, `${prefix}ledger:`)
  const ceiling = rawBullmqLedgerSide(url.href, connection, `${prefix}ceiling`)
  let round = 0
  const measured = (side, title) => async () => {
    name = title
    await side()
    return window.figures()
  }
  const all = {
    raw: measured(() => rawProcessing(connection, `${prefix}raw`, round++, N, window), 'raw'),
    core: measured(() => mortarProcessing(url.href, `${prefix}core:`, N, window), 'core'),
    ledger: measured(() => ledger.run(N, window), 'ledger'),
    ceiling: measured(() => ceiling.run(round++, N, CONCURRENCY, () => {}, window), 'ceiling'),
  }
  const variants = Object.fromEntries(SIDES.map((name) => [name, all[name]]))
  let figures
  try {
    await ledger.migrate()
    figures = await interleave(variants, { rounds: ROUNDS })
  } finally {
    await ceiling.close()
    connection.disconnect()
    await admin.end()
    await deleteRedisKeys(servers.redis, prefix)
    await database.drop()
  }
  const us = (value) => `${value.toFixed(1)} µs`
  console.log(
    `notify-bullmq-cpu: ${ROUNDS} interleaved rounds of ${N.toLocaleString('en')}, concurrency 50, medians per delivery or job`,
  )
  const totals = {}
  for (const [name, list] of Object.entries(figures)) {
    const of = (key) => median(list.map((figure) => figure[key]))
    totals[name] = list.map((figure) => figure.client + figure.redis + figure.postgres)
    const commands = {}
    for (const figure of list) {
      for (const [command, calls] of Object.entries(figure.commands)) {
        commands[command] = [...(commands[command] ?? []), calls]
      }
    }
    const perCommand = Object.entries(commands)
      .map(([command, calls]) => `${command} ${median(calls).toFixed(2)}`)
      .join(', ')
    console.log(
      `  ${name.padEnd(6)} window ${us(of('wall'))}, main thread busy ${of('busy').toFixed(2)}; client ${us(of('client'))} (${us(of('system'))} in the kernel, ${of('syscalls').toFixed(2)} reads and writes), Redis ${us(of('redis'))}, PostgreSQL ${us(of('postgres'))} (${of('backends')} backends), total ${us(median(totals[name]))}; statements ${of('statements').toFixed(3)}; Redis commands ${perCommand}`,
    )
    console.log(
      `         per round, client/Redis/PostgreSQL: ${list.map((figure) => [figure.client, figure.redis, figure.postgres].map((v) => v.toFixed(0)).join('/')).join('  ')}`,
    )
  }
  const ratio = (side, base) =>
    median(totals[base].map((total, index) => total / totals[side][index])).toFixed(3)
  if (totals.raw && totals.ledger)
    console.log(`  raw CPU / ledger CPU ${ratio('ledger', 'raw')} (per round, median)`)
  if (totals.raw && totals.ceiling)
    console.log(
      `  raw CPU / ceiling CPU ${ratio('ceiling', 'raw')} (the ledger's ceiling on BullMQ)`,
    )
  if (totals.ceiling && totals.ledger)
    console.log(`  ceiling CPU / ledger CPU ${ratio('ledger', 'ceiling')}`)
  if (totals.raw && totals.core) console.log(`  raw CPU / core CPU ${ratio('core', 'raw')}`)
  if (totals.core && totals.ledger)
    console.log(`  core CPU / ledger CPU ${ratio('ledger', 'core')}`)
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
