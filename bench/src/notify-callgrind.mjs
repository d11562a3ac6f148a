// Instructions the client spends a delivery through notify's ledger against a bare job doing the
// same no-op, on PostgreSQL with the SQL queue, counted by valgrind's callgrind: a count that a
// loaded machine does not move (other processes' load changes a rate or a CPU time several-fold
// between runs, an instruction count by a few per cent). The same four sides as bench:notify-cpu
// (core's bare jobs, the ledger, and the ceiling's two loops on bare node-postgres), each drained
// alone after its writes; the process counts only the drains of the last round (instrumentation
// switched on and off around each with callgrind_control), after a full collection before each,
// so no side pays for another's garbage. The server's work is another process's: not counted.
// Run without valgrind, this file starts itself under it and prints the counts; the dumps stay
// in BENCH_CALLGRIND_DIR (a temporary folder by default) for callgrind_annotate.
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { privateDatabase } from './measure.mjs'
import { ledgerApp } from './notify.mjs'
import { rawLedgerSides } from './notify-raw-ledger.mjs'

const N = Number(process.env.BENCH_NOTIFY_JOBS ?? 3_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4)
const SIDES = ['jobs', 'ledger', 'raw jobs', 'raw ledger']
const CHILD = 'MORTAR_BENCH_CALLGRIND_CHILD'

/** Runs `command` to its end, resolving to its exit code. */
function exitCode(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options)
    child.on('exit', (code) => resolve(code))
    child.on('error', reject)
  })
}

/** Under callgrind: the rounds, instrumented around the drains of the last one. */
async function rounds() {
  let last = false
  let side = ''
  const control = (...args) =>
    last
      ? exitCode('callgrind_control', [...args, String(process.pid)], { stdio: 'ignore' })
      : undefined
  const start = async () => {
    globalThis.gc()
    await control('--zero')
    await control('--instr=on')
  }
  const stop = async () => {
    await control(`--dump=${side.replace(' ', '-')}`)
    await control('--instr=off')
  }
  const database = await privateDatabase('postgres')
  const { app, jobs, writeJobs, writeDeliveries, emptyLedger } = await ledgerApp(database.url)
  const raw = await rawLedgerSides(database.url, N, { written: start, drained: stop })
  const drain = () => jobs.drain({ timeoutMs: 1_800_000 })
  try {
    for (let round = 0; round < ROUNDS; round++) {
      last = round === ROUNDS - 1
      await writeJobs(N)
      side = 'jobs'
      await start()
      await drain()
      await stop()
      await writeDeliveries(N)
      side = 'ledger'
      await start()
      await drain()
      await stop()
      await emptyLedger()
      for (side of ['raw jobs', 'raw ledger']) await raw.sides[side]()
    }
  } finally {
    await raw.close()
    await app.stop()
    await database.drop()
  }
}

/** Starts this file under callgrind, then prints what each side's drain counted. */
export async function run() {
  const dir = process.env.BENCH_CALLGRIND_DIR ?? mkdtempSync(join(tmpdir(), 'mortar-callgrind-'))
  const code = await exitCode(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      `--callgrind-out-file=${join(dir, 'callgrind.out.%p')}`,
      process.execPath,
      '--expose-gc',
      fileURLToPath(import.meta.url),
    ],
    { stdio: ['ignore', 'inherit', 'ignore'], env: { ...process.env, [CHILD]: '1' } },
  )
  if (code !== 0) throw new Error(`callgrind exited with ${code} (is valgrind installed?)`)
  const counts = {}
  for (const file of readdirSync(dir)) {
    const text = readFileSync(join(dir, file), 'utf8')
    const trigger = /^desc: Trigger: dump (.+)$/m.exec(text)
    const summary = /^summary: (\d+)$/m.exec(text)
    if (trigger === null || summary === null) continue
    counts[trigger[1].replace('-', ' ')] = Number(summary[1]) / N
  }
  const each = SIDES.map((side) => `${side} ${Math.round(counts[side] ?? Number.NaN)}`).join(', ')
  console.log(
    `notify-callgrind PostgreSQL, the client's instructions a delivery or job (drains of ${N}, round ${ROUNDS} of ${ROUNDS}): ${each}; bare jobs / ledger ${(counts.jobs / counts.ledger).toFixed(3)}; core's bare job beyond a raw one ${Math.round(counts.jobs - counts['raw jobs'])}, the ledger beyond core's bare job ${Math.round(counts.ledger - counts.jobs)}, of which the rows on bare pg ${Math.round(counts['raw ledger'] - counts['raw jobs'])}; dumps in ${dir}`,
  )
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.env[CHILD] === '1') await rounds()
  else await run()
}
