// @Transactional() against the same work in a raw Kysely transaction, on SQLite (node:sqlite,
// a file) and PostgreSQL (MORTAR_BENCH_POSTGRES_URL or MORTAR_TEST_POSTGRES_URL, default the
// local server, in a private schema dropped afterwards). Goal: Mortar at >= 0.95 of raw.
//
// Plain .mjs has no decorator syntax, so the decorator is applied by hand:
// `Transactional()(proto, 'name', descriptor)` is exactly what `@Transactional()` compiles to.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { Database, Transactional, useDefaultDatabase } from '@mortar/core'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const OPS = Number(process.env.BENCH_TX_OPS ?? 2_000)
const WORKERS = { sqlite: 1, postgres: 16 }

// The work: move one unit between two accounts (a read and two writes).
async function transfer(db, from, to) {
  const row = await db
    .selectFrom('account')
    .select('balance')
    .where('id', '=', from)
    .executeTakeFirstOrThrow()
  await db
    .updateTable('account')
    .set({ balance: row.balance - 1 })
    .where('id', '=', from)
    .execute()
  await db
    .updateTable('account')
    .set((eb) => ({ balance: eb('balance', '+', 1) }))
    .where('id', '=', to)
    .execute()
}

class Bank {
  constructor(database) {
    this.database = database
  }

  // Decorated below: runs in the transaction the decorator opens, through the shared Kysely.
  async transfer(from, to) {
    await transfer(this.database.kysely, from, to)
  }
}
const descriptor = Object.getOwnPropertyDescriptor(Bank.prototype, 'transfer')
Object.defineProperty(
  Bank.prototype,
  'transfer',
  Transactional()(Bank.prototype, 'transfer', descriptor),
)

async function throughput(workers, one) {
  const perWorker = Math.ceil(OPS / workers)
  const start = performance.now()
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      for (let i = 0; i < perWorker; i++) await one(worker)
    }),
  )
  return (perWorker * workers) / ((performance.now() - start) / 1000)
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

async function compare(engine, database) {
  const workers = WORKERS[engine]
  await database.root.schema
    .createTable('account')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('balance', 'integer', (c) => c.notNull())
    .execute()
  await database.root
    .insertInto('account')
    .values(Array.from({ length: workers * 2 }, (_, id) => ({ id, balance: 1_000_000 })))
    .execute()
  const bank = new Bank(database)
  const release = useDefaultDatabase(database)
  const variants = {
    raw: (worker) =>
      database.root.transaction().execute((trx) => transfer(trx, worker * 2, worker * 2 + 1)),
    mortar: (worker) => bank.transfer(worker * 2, worker * 2 + 1),
  }
  const rates = { raw: [], mortar: [] }
  try {
    // Warm-up, then interleaved rounds with the order flipped each round.
    for (const one of Object.values(variants)) await throughput(workers, one)
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['raw', 'mortar'] : ['mortar', 'raw']
      for (const name of order) rates[name].push(await throughput(workers, variants[name]))
    }
  } finally {
    release()
  }
  const raw = median(rates.raw)
  const mortar = median(rates.mortar)
  const ratio = mortar / raw
  console.log(
    `${engine.padEnd(9)} raw Kysely transaction ${Math.round(raw).toLocaleString('en')} tx/s, ` +
      `@Transactional() ${Math.round(mortar).toLocaleString('en')} tx/s, ` +
      `ratio ${ratio.toFixed(3)} ${ratio >= 0.95 ? '(goal >= 0.95 met)' : '(BELOW the 0.95 goal)'}`,
  )
}

async function sqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'mortar-bench-'))
  const database = new Database(`sqlite:${join(dir, 'bench.db')}`)
  try {
    await database.connect()
    await compare('sqlite', database)
  } finally {
    await database.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function postgres(url) {
  const { default: pg } = await import('pg')
  const schema = `mortar_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  await admin.query(`create schema ${schema}`)
  const target = new URL(url)
  target.searchParams.set('options', `-c search_path=${schema}`)
  const database = new Database({ url: target.toString(), pool: WORKERS.postgres })
  try {
    await database.connect()
    await compare('postgres', database)
  } finally {
    await database.destroy()
    await admin.query(`drop schema ${schema} cascade`)
    await admin.end()
  }
}

export async function run() {
  console.log(
    `@Transactional() vs a raw Kysely transaction (${OPS.toLocaleString('en')} transfers a round, median of ${ROUNDS})`,
  )
  await sqlite()
  const url =
    process.env.MORTAR_BENCH_POSTGRES_URL ??
    process.env.MORTAR_TEST_POSTGRES_URL ??
    'postgres://postgres@127.0.0.1:5432/test'
  try {
    await postgres(url)
  } catch (error) {
    console.log(`postgres  skipped: ${error.message}`)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
