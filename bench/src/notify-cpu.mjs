// CPU a delivery costs through notify's ledger against a bare job doing the same no-op, on
// PostgreSQL with the SQL queue: bench:notify's ledger case measured by CPU instead of rate,
// which a loaded 2-core machine moves far less. Each round writes N deliveries (notify() to 100
// recipients at a time) and N bare jobs, then drains each alone, interleaved (order flipped
// each round); a drain's client CPU is this process's (process.cpuUsage), its server CPU that
// of the app's own backends (found by their application_name, read from /proc/<pid>/stat),
// both per delivery or job. Prints medians and bare CPU / ledger CPU, the ratio the rate
// would have if the machine were CPU-bound (0.8 is the goal of bench:notify's ledger case).
// The same rounds measure bench:notify's ceiling on bare node-postgres (notify-raw-ledger.mjs:
// the rows the issue requires, and bare jobs, on the bare driver) the same way: what the rows
// alone cost a delivery, and so the ratio core's bare jobs would keep paying only for them.
import { readFileSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { pathToFileURL } from 'node:url'
import pg from 'pg'
import { interleave, median, privateDatabase } from './measure.mjs'
import { ledgerApp } from './notify.mjs'
import { rawLedgerSides } from './notify-raw-ledger.mjs'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
// BENCH_CPU_PROFILE=<prefix>: CPU profiles of the last drain of each side alone (not their
// writes), <prefix>.ledger.cpuprofile and <prefix>.jobs.cpuprofile, for Chrome's profiler.
const PROFILE = process.env.BENCH_CPU_PROFILE
// BENCH_HEAP_PROFILE=<prefix>: sampling heap profiles of the same drains (collected objects
// kept: what a drain allocated, not what it left), <prefix>.<side>.heapprofile.
const HEAP = process.env.BENCH_HEAP_PROFILE
const profiles = {}
const heapProfiles = {}
const profiler = PROFILE === undefined && HEAP === undefined ? undefined : new Session()
const N = Number(process.env.BENCH_NOTIFY_JOBS ?? 5_000)
const APPLICATION = `mortar-bench-cpu-${process.pid}`
// Microseconds a clock tick of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux).
export const TICK_US = 10_000

/** CPU ticks so far of the backends connected under `application` (the app's), and how many. */
export async function serverTicks(admin, application = APPLICATION) {
  const { rows } = await admin.query(
    'select pid from pg_stat_activity where application_name = $1',
    [application],
  )
  let ticks = 0
  for (const { pid } of rows) {
    try {
      // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      ticks += Number(fields[11]) + Number(fields[12])
    } catch {
      // A backend that ended meanwhile: its CPU is lost to both sides alike.
    }
  }
  return { ticks, backends: rows.length }
}

/** Starts measuring CPU; the function it resolves to stops, resolving to it per item (µs). */
async function measuring(admin, items) {
  const before = await serverTicks(admin)
  const cpu = process.cpuUsage()
  return async () => {
    const used = process.cpuUsage(cpu)
    const after = await serverTicks(admin)
    return {
      client: (used.user + used.system) / items,
      system: used.system / items,
      server: ((after.ticks - before.ticks) * TICK_US) / items,
      backends: after.backends,
    }
  }
}

/** Runs `drain`, resolving to its client and server CPU per item (µs). */
async function measured(admin, items, drain, side) {
  if (PROFILE !== undefined) await profiler.post('Profiler.start')
  if (HEAP !== undefined) {
    await profiler.post('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    })
  }
  const stop = await measuring(admin, items)
  await drain()
  const figure = await stop()
  if (PROFILE !== undefined) profiles[side] = (await profiler.post('Profiler.stop')).profile
  if (HEAP !== undefined) {
    heapProfiles[side] = (await profiler.post('HeapProfiler.stopSampling')).profile
  }
  return figure
}

export async function run() {
  const database = await privateDatabase('postgres')
  const url = new URL(database.url)
  url.searchParams.set('application_name', APPLICATION)
  const { app, jobs, writeJobs, writeDeliveries, emptyLedger } = await ledgerApp(url.href)
  const admin = new pg.Client({ connectionString: database.url })
  await admin.connect()
  const drain = () => jobs.drain({ timeoutMs: 600_000 })
  // The ceiling's sides on the same database, measured from the end of their writes.
  let stop
  let rawFigure
  const raw = await rawLedgerSides(url.href, N, {
    written: async () => {
      stop = await measuring(admin, N)
    },
    drained: async () => {
      rawFigure = await stop()
    },
  })
  const rawSide = (name) => async () => {
    await raw.sides[name]()
    return rawFigure
  }
  profiler?.connect()
  if (PROFILE !== undefined) {
    await profiler.post('Profiler.enable')
    // Every 50 µs, not the default 1 ms: a drain of 5,000 is a few hundred ms of CPU.
    await profiler.post('Profiler.setSamplingInterval', { interval: 50 })
  }
  try {
    const figures = await interleave(
      {
        async jobs() {
          await writeJobs(N)
          return measured(admin, N, drain, 'jobs')
        },
        async ledger() {
          await writeDeliveries(N)
          const figure = await measured(admin, N, drain, 'ledger')
          await emptyLedger()
          return figure
        },
        rawJobs: rawSide('raw jobs'),
        rawLedger: rawSide('raw ledger'),
      },
      { rounds: ROUNDS },
    )
    const show = (list, side) => Math.round(median(list.map((figure) => figure[side])))
    const total = (list) => list.map((figure) => figure.client + figure.server)
    const ratios = figures.jobs.map((figure, round) => {
      const ledger = figures.ledger[round]
      return (figure.client + figure.server) / (ledger.client + ledger.server)
    })
    console.log(
      `notify-cpu PostgreSQL, ${N} a round, ${ROUNDS} rounds, µs a delivery or job (client (of it system), server, total): ledger ${show(figures.ledger, 'client')} (${show(figures.ledger, 'system')}), ${show(figures.ledger, 'server')}, ${Math.round(median(total(figures.ledger)))}; bare jobs ${show(figures.jobs, 'client')} (${show(figures.jobs, 'system')}), ${show(figures.jobs, 'server')}, ${Math.round(median(total(figures.jobs)))}; bare CPU / ledger CPU ${median(ratios).toFixed(3)} (rounds ${ratios.map((r) => r.toFixed(3)).join(', ')}); the app's backends ${Math.max(...figures.ledger.map((figure) => figure.backends))}`,
    )
    // What the rows alone add to a delivery on the bare driver, added to a bare job of core's.
    const ceiling = figures.jobs.map((figure, round) => {
      const total = (f) => f.client + f.server
      const bare = total(figure)
      return bare / (bare + total(figures.rawLedger[round]) - total(figures.rawJobs[round]))
    })
    console.log(
      `  ceiling on bare pg: raw ledger ${show(figures.rawLedger, 'client')}, ${show(figures.rawLedger, 'server')}, ${Math.round(median(total(figures.rawLedger)))}; raw jobs ${show(figures.rawJobs, 'client')}, ${show(figures.rawJobs, 'server')}, ${Math.round(median(total(figures.rawJobs)))} (client, server, total); on core's bare jobs by CPU ${median(ceiling).toFixed(3)} (rounds ${ceiling.map((r) => r.toFixed(3)).join(', ')})`,
    )
    for (const [side, profile] of Object.entries(profiles)) {
      writeFileSync(`${PROFILE}.${side}.cpuprofile`, JSON.stringify(profile))
    }
    for (const [side, profile] of Object.entries(heapProfiles)) {
      writeFileSync(`${HEAP}.${side}.heapprofile`, JSON.stringify(profile))
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
