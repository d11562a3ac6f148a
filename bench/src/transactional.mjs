// @Transactional() against the same work in a raw Kysely transaction, on SQLite (node:sqlite,
// a file) and PostgreSQL (MORTAR_BENCH_POSTGRES_URL or MORTAR_TEST_POSTGRES_URL, default the
// local server, in a private schema dropped afterwards). Goal: Mortar at >= 0.95 of raw.
//
// Plain .mjs has no decorator syntax, so the decorator is applied by hand:
// `Transactional()(proto, 'name', descriptor)` is exactly what `@Transactional()` compiles to.
import { pathToFileURL } from 'node:url'
import { Database, Transactional, useDefaultDatabase } from '@mortar/core'
import { interleave, median, privateDatabase, throughput } from './measure.mjs'

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
  let rates
  try {
    rates = await interleave(
      {
        raw: () =>
          throughput(workers, OPS, (worker) =>
            database.root.transaction().execute((trx) => transfer(trx, worker * 2, worker * 2 + 1)),
          ),
        mortar: () =>
          throughput(workers, OPS, (worker) => bank.transfer(worker * 2, worker * 2 + 1)),
      },
      { rounds: ROUNDS },
    )
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

async function onEngine(engine, options) {
  const target = await privateDatabase(engine)
  const database = new Database({ url: target.url, ...options })
  try {
    await database.connect()
    await compare(engine, database)
  } finally {
    await database.destroy()
    await target.drop()
  }
}

export async function run() {
  console.log(
    `@Transactional() vs a raw Kysely transaction (${OPS.toLocaleString('en')} transfers a round, median of ${ROUNDS})`,
  )
  await onEngine('sqlite')
  try {
    await onEngine('postgres', { pool: WORKERS.postgres })
  } catch (error) {
    console.log(`postgres  skipped: ${error.message}`)
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
