// CPU a request transaction costs with notify() (one recipient, two channels) against the same
// transaction without it, on PostgreSQL: bench:notify's request case measured by CPU instead of
// rate, which a loaded 2-core machine moves far less. Each side runs N transactions from 16
// concurrent callers, interleaved (order flipped each round); client CPU is this process's
// (process.cpuUsage), server CPU that of the backends connected under this run's
// application_name (from /proc/<pid>/stat), both per transaction, with the statements the
// client sent (node-postgres queries; a write sent with its COMMIT is one). The same rounds run
// the ceiling's two sides on bare node-postgres (notify-raw-request.mjs: without, and with the
// same two delivery and two job rows by hand). Prints medians, without / with by CPU (the ratio
// the rates would have on a CPU-bound machine) and the ceiling's: Mortar's transaction without
// notify() plus what the rows alone cost on bare pg.
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { pathToFileURL } from 'node:url'
import { DATABASE } from '@mortar/core'
import pg from 'pg'
import { countStatements, interleave, median, privateDatabase, throughput } from './measure.mjs'
import { requestApp, requestVariants } from './notify.mjs'
import { serverTicks, TICK_US } from './notify-cpu.mjs'
import { rawRequestSides } from './notify-raw-request.mjs'
import { vacuumAfterDeletes } from './notify-shop-checkout.mjs'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const N = Number(process.env.BENCH_NOTIFY_REQUESTS ?? 2_000)
const CLIENTS = 16
// BENCH_CPU_PROFILE=<prefix>: a CPU profile of each Mortar side's last round,
// <prefix>.<side>.cpuprofile, for Chrome's profiler.
const PROFILE = process.env.BENCH_CPU_PROFILE
const APPLICATION = `mortar-bench-request-${process.pid}`

export async function run() {
  const database = await privateDatabase('postgres')
  const url = new URL(database.url)
  url.searchParams.set('application_name', APPLICATION)
  const app = requestApp(url.href, false)
  await app.migrate()
  await app.start()
  const db = app.resolve(DATABASE)
  const { plain, notify } = await requestVariants(app, db)
  const admin = new pg.Client({ connectionString: database.url })
  await admin.connect()
  const raw = await rawRequestSides(url.href, CLIENTS)
  const statements = countStatements()
  const profiler = PROFILE === undefined ? undefined : new Session()
  const profiles = {}
  const sides = {
    plain,
    notify,
    rawWithout: raw.sides['raw without'],
    rawRows: raw.sides['raw with the rows'],
  }
  let round = 0
  const measured = (name, one) => async () => {
    const profiling = profiler !== undefined && round === ROUNDS - 1 && !name.startsWith('raw')
    if (profiling) await profiler.post('Profiler.start')
    const { ticks } = await serverTicks(admin, APPLICATION)
    const counted = statements.count
    const cpu = process.cpuUsage()
    await throughput(CLIENTS, N, one)
    const used = process.cpuUsage(cpu)
    const server = ((await serverTicks(admin, APPLICATION)).ticks - ticks) * TICK_US
    if (profiling) profiles[name] = (await profiler.post('Profiler.stop')).profile
    return {
      client: (used.user + used.system) / N,
      system: used.system / N,
      server: server / N,
      statements: (statements.count - counted) / N,
    }
  }
  if (profiler !== undefined) {
    profiler.connect()
    await profiler.post('Profiler.enable')
    await profiler.post('Profiler.setSamplingInterval', { interval: 50 })
  }
  try {
    const figures = await interleave(
      Object.fromEntries(Object.entries(sides).map(([name, one]) => [name, measured(name, one)])),
      {
        rounds: ROUNDS,
        afterRound: async () => {
          round += 1
          await db.root.deleteFrom('mortar_job').execute()
          await db.root.deleteFrom('mortar_delivery').execute()
          await vacuumAfterDeletes(db, 'postgres', ['mortar_job', 'mortar_delivery'])
        },
      },
    )
    const total = (figure) => figure.client + figure.server
    const count = (figure) => figure.statements
    const show = (name, key) => median(figures[name].map(key)).toFixed(key === count ? 2 : 0)
    const line = (name) =>
      `${name} ${show(name, (f) => f.client)} (${show(name, (f) => f.system)}), ${show(name, (f) => f.server)}, ${show(name, total)}, ${show(name, count)}`
    const ratios = figures.plain.map((plain, i) => total(plain) / total(figures.notify[i]))
    const ceiling = figures.plain.map((plain, i) => {
      const added = total(figures.rawRows[i]) - total(figures.rawWithout[i])
      return total(plain) / (total(plain) + added)
    })
    console.log(
      `notify-request-cpu PostgreSQL, ${N} transactions a round, ${ROUNDS} rounds, µs a transaction (client (of it system), server, total) and statements: ${line('plain')}; ${line('notify')}; ${line('rawWithout')}; ${line('rawRows')}`,
    )
    console.log(
      `  without / with notify() by CPU ${median(ratios).toFixed(3)} (rounds ${ratios.map((r) => r.toFixed(3)).join(', ')}); its ceiling on this row model by CPU ${median(ceiling).toFixed(3)}; notify() adds ${median(figures.notify.map((f, i) => f.client - figures.plain[i].client)).toFixed(0)} µs client, ${median(figures.notify.map((f, i) => f.server - figures.plain[i].server)).toFixed(0)} server; the rows by hand ${median(figures.rawRows.map((f, i) => f.client - figures.rawWithout[i].client)).toFixed(0)} client, ${median(figures.rawRows.map((f, i) => f.server - figures.rawWithout[i].server)).toFixed(0)} server`,
    )
    for (const [side, profile] of Object.entries(profiles)) {
      writeFileSync(`${PROFILE}.${side}.cpuprofile`, JSON.stringify(profile))
    }
  } finally {
    profiler?.disconnect()
    await raw.close()
    await app.stop()
    await admin.end()
    await database.drop()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
