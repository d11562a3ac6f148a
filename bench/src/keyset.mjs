// Keyset pagination against OFFSET, deep in a 1,000,000-row table: the same 20 rows fetched both
// ways, on PostgreSQL (MORTAR_BENCH_POSTGRES_URL or MORTAR_TEST_POSTGRES_URL, default the local
// server), on SQLite (node:sqlite, in memory) and on MariaDB when MORTAR_BENCH_MYSQL_URL or
// MORTAR_TEST_MYSQL_URL is set. Each engine gets a private schema/database, dropped afterwards.
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import * as core from '@mortar/core'
import { Kysely, MysqlDialect, PostgresDialect, sql } from 'kysely'

const ROWS = 1_000_000
const DEPTH = 900_000
const PAGE = 20
const ROUNDS = { keyset: 50, offset: 5 }
const paginator = new core.Paginator({ key: randomBytes(32) })

function median(samples) {
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

async function timeIt(rounds, run) {
  const samples = []
  let result
  for (let round = 0; round < rounds; round++) {
    const start = performance.now()
    result = await run()
    samples.push(performance.now() - start)
  }
  return { ms: median(samples), result }
}

async function compare(engine, db) {
  const query = () => db.selectFrom('items').select(['id', 'score', 'label'])
  const orderBy = ['score']
  // The cursor of the row just before OFFSET's page, taken once, untimed, through pages of the
  // largest size paginate serves (1,000).
  let after
  for (let seen = 0; seen < DEPTH; seen += 1_000) {
    after = (await paginator.paginate(query(), { orderBy, after, limit: 1_000 })).nextCursor
  }
  const keyset = await timeIt(ROUNDS.keyset, () =>
    paginator.paginate(query(), { orderBy, after, limit: PAGE }),
  )
  const offset = await timeIt(ROUNDS.offset, () =>
    query().orderBy('score').orderBy('id').offset(DEPTH).limit(PAGE).execute(),
  )
  const same = JSON.stringify(keyset.result.items) === JSON.stringify(offset.result)
  console.log(
    `${engine.padEnd(9)} page at ${DEPTH.toLocaleString('en')} of ${ROWS.toLocaleString('en')}: ` +
      `keyset ${keyset.ms.toFixed(2)} ms, offset ${offset.ms.toFixed(2)} ms, ` +
      `keyset is ${(offset.ms / keyset.ms).toFixed(1)}x faster${same ? '' : ' (ROWS DIFFER!)'}`,
  )
}

async function postgres(url) {
  const { default: pg } = await import('pg')
  const schema = `mortar_bench_${randomBytes(4).toString('hex')}`
  const admin = new pg.Pool({ connectionString: url, max: 1 })
  await admin.query(`create schema ${schema}`)
  const db = new Kysely({
    dialect: new PostgresDialect({
      pool: new pg.Pool({ connectionString: url, max: 2, options: `-c search_path=${schema}` }),
    }),
  })
  try {
    await sql`create table items (id integer primary key, score integer not null, label text not null)`.execute(
      db,
    )
    await sql`insert into items select g, (g::bigint * 7919) % 100000, 'item ' || g from generate_series(1, ${sql.lit(ROWS)}) g`.execute(
      db,
    )
    await sql`create index items_score_id on items (score, id)`.execute(db)
    await sql`analyze items`.execute(db)
    await compare('postgres', db)
  } finally {
    await db.destroy()
    await admin.query(`drop schema ${schema} cascade`)
    await admin.end()
  }
}

async function sqlite() {
  if (!core.NodeSqliteDialect)
    return console.log('sqlite    skipped: @mortar/core has no NodeSqliteDialect')
  const db = new Kysely({ dialect: new core.NodeSqliteDialect({ filename: ':memory:' }) })
  try {
    await sql`create table items (id integer primary key, score integer not null, label text not null)`.execute(
      db,
    )
    await sql`with recursive g(x) as (select 1 union all select x + 1 from g where x < ${sql.lit(ROWS)})
      insert into items select x, (x * 7919) % 100000, 'item ' || x from g`.execute(db)
    await sql`create index items_score_id on items (score, id)`.execute(db)
    await sql`analyze`.execute(db)
    await compare('sqlite', db)
  } finally {
    await db.destroy()
  }
}

async function mysql(url) {
  const { createPool } = await import('mysql2')
  const name = `mortar_bench_${randomBytes(4).toString('hex')}`
  const admin = new Kysely({
    dialect: new MysqlDialect({ pool: createPool({ uri: url, connectionLimit: 1 }) }),
  })
  await sql`create database ${sql.id(name)}`.execute(admin)
  const db = new Kysely({
    dialect: new MysqlDialect({
      pool: createPool({ uri: url, database: name, connectionLimit: 2 }),
    }),
  })
  try {
    await sql`create table items (id integer primary key, score integer not null, label varchar(32) not null)`.execute(
      db,
    )
    // MariaDB's sequence engine stands in for generate_series.
    await sql`insert into items select seq, (seq * 7919) % 100000, concat('item ', seq) from seq_1_to_1000000`.execute(
      db,
    )
    await sql`create index items_score_id on items (score, id)`.execute(db)
    await sql`analyze table items`.execute(db)
    await compare('mariadb', db)
  } finally {
    await db.destroy()
    await sql`drop database ${sql.id(name)}`.execute(admin)
    await admin.destroy()
  }
}

/** Runs the keyset-vs-OFFSET comparison on every available engine and prints the ratios. */
export async function run() {
  console.log('keyset pagination vs OFFSET (median of runs; same rows both ways)')
  await postgres(
    process.env.MORTAR_BENCH_POSTGRES_URL ??
      process.env.MORTAR_TEST_POSTGRES_URL ??
      'postgres://postgres@127.0.0.1:5432/test',
  )
  await sqlite()
  const mysqlUrl = process.env.MORTAR_BENCH_MYSQL_URL ?? process.env.MORTAR_TEST_MYSQL_URL
  if (mysqlUrl) await mysql(mysqlUrl)
  else console.log('mariadb   skipped: MORTAR_BENCH_MYSQL_URL / MORTAR_TEST_MYSQL_URL is unset')
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
