// The request transaction on the bare driver, no Kysely and no Mortar: the ceiling any enqueue
// can reach on an engine. The same transaction as jobs.mjs's (a read and two writes) with and
// without the job's INSERT as the SQL queue sends it, into the table its migration makes.
// SQLite also measures the table without AUTOINCREMENT, and without the due index, to show what
// dropping them would buy (neither is dropped: see bench/README.md).
import { createRequire } from 'node:module'
import { medianRatio } from './measure.mjs'

const require = createRequire(import.meta.url)
const CLIENTS = 16

/** Rates per side of the raw transaction on the migrated database at `url`, sides interleaved. */
export async function rawRequest(engine, url, { rounds, slice }) {
  const raw =
    engine === 'sqlite'
      ? sqliteSides(url)
      : engine === 'postgres'
        ? await postgresSides(url)
        : await mysqlSides(url)
  try {
    const names = Object.keys(raw.sides)
    const rates = Object.fromEntries(names.map((name) => [name, []]))
    for (let round = -1; round < rounds; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(Math.max(round, 0) + i) % names.length]
        const started = performance.now()
        await raw.run(raw.sides[name], slice)
        if (round >= 0) rates[name].push(slice / ((performance.now() - started) / 1_000))
      }
      await raw.reset()
    }
    return names.map((name) => ({
      name,
      ratio: medianRatio(rates[name], rates.without),
    }))
  } finally {
    await raw.close()
  }
}

/** `count` calls spread over the connections, each calling `body(connection, from)` in turn. */
async function eachConnection(connections, count, body) {
  await Promise.all(
    connections.map(async (c, client) => {
      for (let call = client; call < count; call += CLIENTS) await body(c, client * 2)
    }),
  )
}

function sqliteSides(url) {
  const { DatabaseSync } = require('node:sqlite')
  const db = new DatabaseSync(url.slice('sqlite:'.length))
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = NORMAL')
  db.exec('create table raw_account (id integer primary key, balance integer not null)')
  const add = db.prepare('insert into raw_account values (?, ?)')
  for (let id = 0; id < CLIENTS * 2; id++) add.run(id, 1_000_000)
  const table = (name, { autoincrement, due }) => {
    db.exec(`create table ${name} (id integer primary key ${autoincrement ? 'autoincrement' : ''},
      name text not null, payload text not null, dedup_key text, run_at integer not null,
      attempts integer not null default 0, max_attempts integer not null, locked_by text,
      progress text, errors text, created_at integer not null, dead_at integer)`)
    if (due) db.exec(`create index ${name}_due on ${name} (run_at, id) where dead_at is null`)
    db.exec(
      `create unique index ${name}_key on ${name} (dedup_key) where dead_at is null and dedup_key is not null`,
    )
    return insertInto(name)
  }
  const insertInto = (name) =>
    db.prepare(
      `insert into ${name} (name, payload, dedup_key, run_at, max_attempts, created_at) values (?, ?, ?, ?, ?, ?) on conflict do nothing returning id, dedup_key`,
    )
  const read = db.prepare('select balance from raw_account where id = ?')
  const debit = db.prepare('update raw_account set balance = ? where id = ?')
  const credit = db.prepare('update raw_account set balance = balance + 1 where id = ?')
  const begin = db.prepare('begin')
  const commit = db.prepare('commit')
  const sides = {
    without: undefined,
    'with the INSERT': insertInto('mortar_job'),
    'without AUTOINCREMENT': table('raw_job_sequence_free', { autoincrement: false, due: true }),
    'without AUTOINCREMENT and the due index': table('raw_job_bare', {
      autoincrement: false,
      due: false,
    }),
  }
  return {
    sides,
    // One connection: the 16 callers of the Mortar side take turns on it too.
    async run(insert, count) {
      for (let call = 0; call < count; call++) {
        const from = (call % CLIENTS) * 2
        begin.run()
        const { balance } = read.get(from)
        debit.run(balance - 1, from)
        credit.run(from + 1)
        if (insert !== undefined) {
          const now = Date.now()
          insert.all('bench.noop', JSON.stringify({ n: from }), null, now, 3, now)
        }
        commit.run()
      }
    },
    async reset() {
      for (const name of ['mortar_job', 'raw_job_sequence_free', 'raw_job_bare']) {
        db.exec(`delete from ${name}`)
      }
    },
    async close() {
      db.close()
    },
  }
}

async function postgresSides(url) {
  const pg = require('pg')
  const pool = new pg.Pool({ connectionString: url, max: CLIENTS + 1 })
  await pool.query('create table raw_account (id int primary key, balance int not null)')
  await pool.query(
    'insert into raw_account select id, 1000000 from generate_series(0, $1::int - 1) as id',
    [CLIENTS * 2],
  )
  const connections = await Promise.all(Array.from({ length: CLIENTS }, () => pool.connect()))
  // Ids drawn ahead from the identity's sequence, as core draws them in blocks.
  const ids = []
  const drawIds = async (c) => {
    const { rows } = await c.query(
      "select nextval(pg_get_serial_sequence('mortar_job', 'id')) as id from generate_series(1, 1000)",
    )
    for (const row of rows) ids.push(row.id)
  }
  const prepared = (name, text, values) => ({ name, text, values })
  // The job's INSERT as core sends it: prepared, in one write with the COMMIT.
  const insert =
    'insert into mortar_job (id, name, payload, run_at, max_attempts, created_at) overriding system value values ($1, $2, $3, $4, $5, $6)'
  const sides = {
    without: undefined,
    'with the INSERT sent with the COMMIT': async (c, from) => {
      if (ids.length === 0) await drawIds(c)
      const now = Date.now()
      const values = [ids.pop(), 'bench.noop', JSON.stringify({ n: from }), now, 3, now]
      const stream = c.connection.stream
      stream.cork()
      const write = c.query(prepared('raw_job', insert, values))
      const commit = c.query('commit')
      process.nextTick(() => stream.uncork())
      await Promise.all([write, commit])
    },
  }
  return {
    sides,
    async run(extra, count) {
      await eachConnection(connections, count, async (c, from) => {
        await c.query('begin')
        const { rows } = await c.query(
          prepared('raw_read', 'select balance from raw_account where id = $1', [from]),
        )
        await c.query(
          prepared('raw_debit', 'update raw_account set balance = $1 where id = $2', [
            rows[0].balance - 1,
            from,
          ]),
        )
        await c.query(
          prepared('raw_credit', 'update raw_account set balance = balance + 1 where id = $1', [
            from + 1,
          ]),
        )
        if (extra === undefined) await c.query('commit')
        else await extra(c, from)
      })
    },
    async reset() {
      await pool.query('delete from mortar_job')
    },
    async close() {
      for (const c of connections) c.release()
      await pool.end()
    },
  }
}

async function mysqlSides(url) {
  const mysql = require('mysql2/promise')
  const pool = mysql.createPool({ uri: url, connectionLimit: CLIENTS + 1 })
  await pool.query('create table raw_account (id int primary key, balance int not null)')
  await pool.query('insert into raw_account values ?', [
    Array.from({ length: CLIENTS * 2 }, (_, id) => [id, 1_000_000]),
  ])
  const connections = await Promise.all(Array.from({ length: CLIENTS }, () => pool.getConnection()))
  const insert =
    'insert ignore into mortar_job (name, payload, dedup_key, run_at, max_attempts, created_at) values (?, ?, ?, ?, ?, ?)'
  const values = (from, now) => ['bench.noop', JSON.stringify({ n: from }), null, now, 3, now]
  const sides = {
    without: undefined,
    'with the INSERT': (c, from, now) =>
      c.query(`${insert} returning id, dedup_key`, values(from, now)),
    'with the INSERT prepared': (c, from, now) =>
      c.execute(`${insert} returning id, dedup_key`, values(from, now)),
  }
  return {
    sides,
    async run(extra, count) {
      await eachConnection(connections, count, async (c, from) => {
        await c.query('begin')
        const [[row]] = await c.query('select balance from raw_account where id = ?', [from])
        await c.query('update raw_account set balance = ? where id = ?', [row.balance - 1, from])
        await c.query('update raw_account set balance = balance + 1 where id = ?', [from + 1])
        if (extra !== undefined) await extra(c, from, Date.now())
        await c.query('commit')
      })
    },
    async reset() {
      await pool.query('delete from mortar_job')
    },
    async close() {
      for (const c of connections) c.release()
      await pool.end()
    },
  }
}
