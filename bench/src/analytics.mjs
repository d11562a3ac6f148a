// @mortar/analytics against what a user would pick instead, in one run:
//  1. ingest: events tracked and flushed into PostgreSQL against COPY of the same rows
//     (pg-copy-streams), into SQLite against raw batched inserts (node:sqlite), and into
//     MariaDB against mysql2's multi-row inserts (when its URL is set);
//  2. one track() call against posthog-node's capture() and @segment/analytics-node's track()
//     recording the same event (time in the call, calling-thread CPU per stored event), and a
//     100,000-event burst (stored, reported dropped, silently lost);
//  3. on 1,000,000 events: top-10 searches over 7 days and also-bought for one item from the
//     rollups against the live SQL, and a 3-step funnel over 30 days.
// PostgreSQL: MORTAR_BENCH_POSTGRES_URL or MORTAR_TEST_POSTGRES_URL (default the local server),
// in a private schema dropped afterwards; the queries also on SQLite, and on MariaDB when
// MORTAR_BENCH_MYSQL_URL or MORTAR_TEST_MYSQL_URL is set (a private database). Goals from issue 12: ingest >= 0.9x COPY on PostgreSQL,
// >= 0.7x raw and > 100,000 rows/s on SQLite; track() <= 1 us in the call and < 1/10 of either
// SDK's calling-thread cost per stored event; top-10 <= 50 ms, also-bought <= 5 ms.
import { fork } from 'node:child_process'
import { randomBytes, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { DatabaseSync } from 'node:sqlite'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { ANALYTICS, analyticsModule, defineEvents } from '@mortar/analytics'
import { createApp, DATABASE } from '@mortar/core'
import { Analytics as Segment } from '@segment/analytics-node'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { PostHog } from 'posthog-node'
import { z } from 'zod'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const INGEST = Number(process.env.BENCH_INGEST_EVENTS ?? 100_000)
const CALLS = Number(process.env.BENCH_TRACK_CALLS ?? 100_000)
const QUERY_EVENTS = Number(process.env.BENCH_QUERY_EVENTS ?? 1_000_000)
const POSTGRES =
  process.env.MORTAR_BENCH_POSTGRES_URL ??
  process.env.MORTAR_TEST_POSTGRES_URL ??
  'postgres://postgres@127.0.0.1:5432/test'
const MYSQL = process.env.MORTAR_BENCH_MYSQL_URL ?? process.env.MORTAR_TEST_MYSQL_URL
const DAY = 86_400_000

const events = defineEvents({
  product_searched: z.object({ query: z.string().max(200) }),
  product_viewed: z.object({ productId: z.string() }),
  cart_added: z.object({ productId: z.string() }),
  order_completed: z.object({ orderId: z.string(), productIds: z.array(z.string()) }),
})

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
const fmt = (n, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

// A deterministic shop: Zipf-like popularity, baskets drawn around a theme so items co-occur.
function random(seed) {
  let a = seed
  return () => {
    a |= 0
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
function makeEvents(count, { days = 30, now = Date.now(), seed = 1 } = {}) {
  const next = random(seed)
  const zipf = (n) => Math.min(n - 1, Math.floor(n ** next() - 1))
  const list = []
  for (let i = 0; i < count; i++) {
    const at = now - Math.floor(next() * days * DAY)
    const userId = `u-${Math.floor(next() * 20_000)}`
    const roll = next()
    const product = `p-${zipf(2_000)}`
    if (roll < 0.25)
      list.push({
        name: 'product_searched',
        properties: { query: `query ${zipf(5_000)}` },
        userId,
        at,
      })
    else if (roll < 0.75)
      list.push({ name: 'product_viewed', properties: { productId: product }, userId, at })
    else if (roll < 0.9)
      list.push({ name: 'cart_added', properties: { productId: product }, userId, at })
    else {
      const theme = zipf(200)
      const size = 1 + Math.floor(next() * 3)
      const productIds = [
        ...new Set(Array.from({ length: size }, () => `p-${theme * 10 + Math.floor(next() * 10)}`)),
      ]
      list.push({
        name: 'order_completed',
        properties: { orderId: `o-${i}`, productIds },
        userId,
        at,
      })
    }
  }
  return list
}

async function privatePostgres() {
  const name = `mortar_bench_${randomBytes(5).toString('hex')}`
  const admin = new pg.Client({ connectionString: POSTGRES })
  await admin.connect()
  await admin.query(`create schema ${name}`)
  await admin.end()
  const url = new URL(POSTGRES)
  url.searchParams.set('options', `-c search_path=${name}`)
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: POSTGRES })
      await client.connect()
      await client.query(`drop schema ${name} cascade`)
      await client.end()
    },
  }
}

async function privateMysql() {
  const { createConnection } = await import('mysql2/promise')
  const name = `mortar_bench_${randomBytes(5).toString('hex')}`
  const admin = await createConnection({ uri: MYSQL })
  await admin.query(`create database ${name}`)
  await admin.end()
  const url = new URL(MYSQL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    async drop() {
      const client = await createConnection({ uri: MYSQL })
      await client.query(`drop database ${name}`)
      await client.end()
    },
  }
}

async function startAnalytics(database, buffer, extra = {}) {
  const app = createApp({
    database,
    jobs: { workers: false },
    logger: silentLogger(),
    modules: [
      analyticsModule({
        events,
        buffer,
        counts: { product_searched: ['query'], product_viewed: ['productId'] },
        recommendations: {
          viewed: { event: 'product_viewed', item: 'productId' },
          bought: { event: 'order_completed', items: 'productIds' },
        },
        rollupEvery: '1h',
        ...extra,
      }),
    ],
  })
  await app.migrate()
  await app.start()
  return { app, analytics: app.resolve(ANALYTICS), db: app.resolve(DATABASE) }
}

function silentLogger() {
  const noop = () => {}
  const logger = {
    trace: noop,
    debug: noop,
    info: noop,
    warn: noop,
    error: noop,
    fatal: noop,
    level: 'silent',
  }
  logger.child = () => logger
  return logger
}

const BIG = {
  capacity: 2_000_000,
  batchSize: 10_000,
  batchBytes: 64 * 1024 * 1024,
  maxAgeMs: 60_000,
}

async function trackAll(analytics, list) {
  for (const e of list) analytics.track(e.name, e.properties, { userId: e.userId, timestamp: e.at })
  await analytics.flush()
}

// ---------------------------------------------------------------------------------------------
// 1. Ingest

/** The ingest rows in time order, as a tracker writes them (the key starts with the time). */
function ingestEvents(seed) {
  return makeEvents(INGEST, { seed, days: 1 }).sort((a, b) => a.at - b.at)
}

function copyLine(e) {
  const json = JSON.stringify(e.properties).replace(/\\/g, '\\\\')
  return `${e.at}\t${randomUUID()}\t1\t${e.name}\t${e.userId}\t\\N\t\\N\t${json}\n`
}

/**
 * Rows per second of `mortar` and of `baseline` writing `rows` rows, in interleaved rounds (a
 * warm-up round first, the order flipped each round), `reset(variant)` before each run; with
 * the ratio of each round's pair, and the same ratio of this process's CPU time (user + system):
 * where all the work runs in this process (SQLite), that one holds on a machine other work
 * keeps busy, when wall time mostly measures the others.
 */
async function interleavedRates(rows, { reset, mortar, baseline }) {
  const rates = { mortar: [], baseline: [] }
  const cpu = { mortar: [], baseline: [] }
  for (let round = -1; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['mortar', 'baseline'] : ['baseline', 'mortar']
    for (const variant of order) {
      await reset(variant)
      const start = performance.now()
      const used = process.cpuUsage()
      await (variant === 'mortar' ? mortar() : baseline())
      const { user, system } = process.cpuUsage(used)
      const rate = rows / ((performance.now() - start) / 1_000)
      if (round >= 0) {
        rates[variant].push(rate)
        cpu[variant].push(rows / ((user + system) / 1_000_000))
      }
    }
  }
  return {
    ...rates,
    ratios: rates.mortar.map((rate, i) => rate / rates.baseline[i]),
    cpuRatios: cpu.mortar.map((rate, i) => rate / cpu.baseline[i]),
  }
}

async function ingestPostgres() {
  const database = await privatePostgres()
  const { app, analytics } = await startAnalytics(database.url, BIG)
  const client = new pg.Client({ connectionString: database.url })
  await client.connect()
  const list = ingestEvents(7)
  let rates
  try {
    rates = await interleavedRates(list.length, {
      reset: () => client.query('truncate mortar_analytics_event, mortar_analytics_batch'),
      mortar: () => trackAll(analytics, list),
      async baseline() {
        for (let i = 0; i < list.length; i += 10_000) {
          const text = list
            .slice(i, i + 10_000)
            .map(copyLine)
            .join('')
          const stream = client.query(
            copyFrom(
              'copy mortar_analytics_event (occurred_at, id, batch_id, name, user_id, anonymous_id, session_id, properties) from stdin',
            ),
          )
          await pipeline(Readable.from([text]), stream)
        }
      },
    })
  } finally {
    await client.end()
    await app.stop()
    await database.drop()
  }
  console.log(
    `ingest PostgreSQL, ${fmt(INGEST)} events: mortar ${fmt(median(rates.mortar))} rows/s, COPY ${fmt(median(rates.baseline))} rows/s, ratio ${median(rates.ratios).toFixed(2)} (goal >= 0.9)`,
  )
}

async function ingestMysql() {
  const database = await privateMysql()
  const { app, analytics } = await startAnalytics(database.url, BIG)
  const { createConnection } = await import('mysql2/promise')
  const client = await createConnection({ uri: database.url })
  const list = ingestEvents(9)
  let rates
  try {
    rates = await interleavedRates(list.length, {
      async reset() {
        await client.query('truncate mortar_analytics_event')
        await client.query('truncate mortar_analytics_batch')
      },
      mortar: () => trackAll(analytics, list),
      async baseline() {
        // mysql2's own multi-row form (`values ?` with an array of rows), 1,000 rows a
        // statement, in transactions of 10,000.
        for (let i = 0; i < list.length; i += 10_000) {
          await client.query('begin')
          for (let j = i; j < Math.min(list.length, i + 10_000); j += 1_000) {
            const rows = list
              .slice(j, j + 1_000)
              .map((e) => [
                e.at,
                randomUUID(),
                1,
                e.name,
                e.userId,
                null,
                null,
                JSON.stringify(e.properties),
              ])
            await client.query(
              'insert into mortar_analytics_event (occurred_at, id, batch_id, name, user_id, anonymous_id, session_id, properties) values ?',
              [rows],
            )
          }
          await client.query('commit')
        }
      },
    })
  } finally {
    await client.end()
    await app.stop()
    await database.drop()
  }
  console.log(
    `ingest MariaDB, ${fmt(INGEST)} events: mortar ${fmt(median(rates.mortar))} rows/s, raw multi-row inserts ${fmt(median(rates.baseline))} rows/s, ratio ${median(rates.ratios).toFixed(2)} (no goal)`,
  )
}

async function ingestSqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'mortar-bench-'))
  const { app, analytics } = await startAnalytics(`sqlite:${join(dir, 'mortar.db')}`, BIG)
  const raw = await startAnalytics(`sqlite:${join(dir, 'raw.db')}`, BIG)
  await raw.app.stop()
  const db = new DatabaseSync(join(dir, 'raw.db'))
  // What Mortar's connection sets (core's SQLite dialect): the same durability on both sides.
  db.exec('pragma journal_mode = wal')
  db.exec('pragma synchronous = normal')
  const insert = db.prepare(
    'insert into mortar_analytics_event (occurred_at, id, batch_id, name, user_id, anonymous_id, session_id, properties) values (?, ?, ?, ?, ?, ?, ?, ?)',
  )
  const list = ingestEvents(8)
  const mortarDb = app.resolve(DATABASE)
  let rates
  try {
    rates = await interleavedRates(list.length, {
      async reset(variant) {
        if (variant === 'mortar') {
          await mortarDb.kysely.deleteFrom('mortar_analytics_event').execute()
          await mortarDb.kysely.deleteFrom('mortar_analytics_batch').execute()
        } else {
          db.exec('delete from mortar_analytics_event')
        }
      },
      mortar: () => trackAll(analytics, list),
      baseline() {
        for (let i = 0; i < list.length; i += 10_000) {
          db.exec('begin')
          for (const e of list.slice(i, i + 10_000)) {
            insert.run(
              e.at,
              randomUUID(),
              1,
              e.name,
              e.userId,
              null,
              null,
              JSON.stringify(e.properties),
            )
          }
          db.exec('commit')
        }
      },
    })
  } finally {
    db.close()
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
  }
  console.log(
    `ingest SQLite, ${fmt(INGEST)} events: mortar ${fmt(median(rates.mortar))} rows/s, raw batched inserts ${fmt(median(rates.baseline))} rows/s, ratio ${median(rates.ratios).toFixed(2)} (goal >= 0.7 and > 100,000 rows/s); per CPU second ${median(rates.cpuRatios).toFixed(2)}`,
  )
}

// ---------------------------------------------------------------------------------------------
// 2. track() against the SDKs

function startCollector(delayMs) {
  const child = fork(new URL('./analytics-collector.mjs', import.meta.url), [String(delayMs)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  })
  return new Promise((resolve) => {
    child.once('message', ({ port }) =>
      resolve({
        url: `http://127.0.0.1:${port}`,
        received: () =>
          new Promise((done) => {
            child.once('message', ({ events }) => done(events))
            child.send('count')
          }),
        reset: () =>
          new Promise((done) => {
            child.once('message', () => done())
            child.send('reset')
          }),
        stop: () => child.kill(),
      }),
    )
  })
}

const cpuMicros = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

/** Calls `track(i)` `count` times in slices of 1,000 (yielding between slices so the SDK can send). */
async function calls(count, track) {
  let inCall = 0
  for (let i = 0; i < count; i += 1_000) {
    const start = performance.now()
    for (let j = i; j < Math.min(count, i + 1_000); j++) track(j)
    inCall += performance.now() - start
    await new Promise((resolve) => setImmediate(resolve))
  }
  return (inCall * 1_000) / count
}

async function trackCost() {
  const database = await privatePostgres()
  const collector = await startCollector(0)
  const properties = { productId: 'p-42' }
  const results = { mortar: [], posthog: [], segment: [] }
  try {
    for (let round = -1; round < ROUNDS; round++) {
      for (const variant of round % 2 === 0
        ? ['mortar', 'posthog', 'segment']
        : ['segment', 'posthog', 'mortar']) {
        await collector.reset()
        const cpu = cpuMicros()
        let callUs
        let stored
        if (variant === 'mortar') {
          // Room for every call, as Segment keeps them all: the CPU is then per event really stored.
          const { app, analytics, db } = await startAnalytics(database.url, {
            batchSize: 5_000,
            capacity: CALLS,
          })
          const startCpu = cpuMicros()
          callUs = await calls(CALLS, (i) =>
            analytics.track('product_viewed', properties, { userId: `u-${i % 1000}` }),
          )
          await analytics.flush()
          const used = cpuMicros() - startCpu
          stored = analytics.stats().stored
          await db.kysely.deleteFrom('mortar_analytics_event').execute()
          await db.kysely.deleteFrom('mortar_analytics_batch').execute()
          await app.stop()
          if (round >= 0) results.mortar.push({ callUs, cpuPerEvent: used / stored, stored })
          continue
        }
        if (variant === 'posthog') {
          const client = new PostHog('phc_bench', {
            host: collector.url,
            flushAt: 100,
            flushInterval: 500,
          })
          callUs = await calls(CALLS, (i) =>
            client.capture({ distinctId: `u-${i % 1000}`, event: 'product_viewed', properties }),
          )
          await client.shutdown()
        } else {
          const client = new Segment({
            writeKey: 'bench',
            host: collector.url,
            flushAt: 100,
            flushInterval: 500,
          })
          callUs = await calls(CALLS, (i) =>
            client.track({ userId: `u-${i % 1000}`, event: 'product_viewed', properties }),
          )
          await client.closeAndFlush()
        }
        stored = await collector.received()
        if (round >= 0)
          results[variant].push({ callUs, cpuPerEvent: (cpuMicros() - cpu) / stored, stored })
      }
    }
  } finally {
    collector.stop()
    await database.drop()
  }
  const summary = (name) => ({
    callUs: median(results[name].map((r) => r.callUs)),
    cpu: median(results[name].map((r) => r.cpuPerEvent)),
    stored: median(results[name].map((r) => r.stored)),
  })
  const mortar = summary('mortar')
  for (const name of ['mortar', 'posthog', 'segment']) {
    const s = summary(name)
    console.log(
      `track() ${name}: ${s.callUs.toFixed(2)} us in the call, ${s.cpu.toFixed(1)} us calling-thread CPU per stored event (${fmt(s.stored)} of ${fmt(CALLS)} stored)`,
    )
  }
  for (const name of ['posthog', 'segment']) {
    const s = summary(name)
    console.log(
      `  mortar / ${name}: ${(mortar.callUs / s.callUs).toFixed(3)} of the call, ${(mortar.cpu / s.cpu).toFixed(3)} of the CPU per stored event (goal < 0.1)`,
    )
  }
}

async function burst() {
  const database = await privatePostgres()
  const collector = await startCollector(200)
  const properties = { productId: 'p-42' }
  try {
    const dropped = []
    const fast = await startAnalytics(database.url, undefined, {
      onDrop: (report) => dropped.push(report.count),
    })
    for (let i = 0; i < 100_000; i++)
      fast.analytics.track('product_viewed', properties, { userId: `u-${i % 1000}` })
    await fast.analytics.flush()
    await new Promise((resolve) => setTimeout(resolve, 20))
    const reported = dropped.reduce((a, b) => a + b, 0)
    console.log(
      `burst of 100,000, mortar defaults (capacity 10,000, drop-oldest): ${fmt(fast.analytics.stats().stored)} stored, ${fmt(reported)} dropped and reported, ${fmt(100_000 - fast.analytics.stats().stored - reported)} lost silently`,
    )
    await fast.db.kysely.deleteFrom('mortar_analytics_event').execute()
    await fast.app.stop()
    const blocking = await startAnalytics(database.url, { overflow: 'block' })
    for (let i = 0; i < 100_000; i++) {
      const wait = blocking.analytics.track('product_viewed', properties, {
        userId: `u-${i % 1000}`,
      })
      if (wait) await wait
    }
    await blocking.analytics.flush()
    console.log(
      `burst of 100,000, mortar overflow 'block' (awaited): ${fmt(blocking.analytics.stats().stored)} stored, 0 dropped`,
    )
    await blocking.app.stop()
    for (const name of ['posthog', 'segment']) {
      await collector.reset()
      if (name === 'posthog') {
        const client = new PostHog('phc_bench', {
          host: collector.url,
          flushAt: 100,
          flushInterval: 500,
        })
        for (let i = 0; i < 100_000; i++)
          client.capture({ distinctId: `u-${i % 1000}`, event: 'product_viewed', properties })
        await client.shutdown(120_000)
      } else {
        const client = new Segment({
          writeKey: 'bench',
          host: collector.url,
          flushAt: 100,
          flushInterval: 500,
        })
        for (let i = 0; i < 100_000; i++)
          client.track({ userId: `u-${i % 1000}`, event: 'product_viewed', properties })
        await client.closeAndFlush({ timeout: 120_000 })
      }
      const received = await collector.received()
      console.log(
        `burst of 100,000, ${name} (200 ms server): ${fmt(received)} delivered, ${fmt(100_000 - received)} lost without a report`,
      )
    }
  } finally {
    collector.stop()
    await database.drop()
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Queries on 1,000,000 events

async function timeIt(fn, runs = 15) {
  await fn()
  const times = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    await fn()
    times.push(performance.now() - start)
  }
  return median(times)
}

async function queries(engine) {
  const dir = engine === 'sqlite' ? mkdtempSync(join(tmpdir(), 'mortar-bench-')) : undefined
  const database =
    engine === 'postgres'
      ? await privatePostgres()
      : engine === 'mysql'
        ? await privateMysql()
        : undefined
  const url = database?.url ?? `sqlite:${join(dir, 'queries.db')}`
  const { app, analytics, db } = await startAnalytics(url, BIG)
  try {
    const now = Date.now()
    let start = performance.now()
    for (let i = 0; i < QUERY_EVENTS; i += 100_000) {
      await trackAll(
        analytics,
        makeEvents(Math.min(100_000, QUERY_EVENTS - i), { now, seed: 100 + i }),
      )
    }
    const ingestS = (performance.now() - start) / 1_000
    start = performance.now()
    const rolled = await analytics.rollup()
    const rollupS = (performance.now() - start) / 1_000
    console.log(
      `${engine}: ${fmt(QUERY_EVENTS)} events ingested in ${ingestS.toFixed(1)} s, rolled up in ${rollupS.toFixed(1)} s (${fmt(rolled.events / rollupS)} events/s)`,
    )
    const zone = 'UTC'
    const today = Math.floor(now / DAY) * DAY
    const from = new Date(today - 6 * DAY)
    const to = new Date(today + DAY)
    const sql = db.kysely
    const { sql: tag } = await import('kysely')
    const prop = (key) =>
      engine === 'postgres'
        ? tag.raw(`properties ->> '${key}'`)
        : engine === 'mysql'
          ? tag.raw(`json_unquote(json_extract(properties, '$.${key}'))`)
          : tag.raw(`json_extract(properties, '$.${key}')`)
    const topRollup = await timeIt(() =>
      analytics.top('product_searched', 'query', { from, to, limit: 10, timeZone: zone }),
    )
    const topLive = await timeIt(() =>
      tag`select ${prop('query')} as q, count(*) as n from mortar_analytics_event where name = 'product_searched' and occurred_at >= ${from.getTime()} and occurred_at < ${to.getTime()} group by 1 order by 2 desc limit 10`.execute(
        sql,
      ),
    )
    console.log(
      `  top-10 searches over 7 days: rollups ${topRollup.toFixed(2)} ms, live SQL ${topLive.toFixed(1)} ms (${(topLive / topRollup).toFixed(0)}x; goal <= 50 ms)`,
    )
    const item = 'p-0'
    const boughtRollup = await timeIt(() => analytics.alsoBought(item, { limit: 10 }))
    const itemsSql =
      engine === 'postgres'
        ? (alias) => tag.raw(`jsonb_array_elements_text(${alias}.properties -> 'productIds')`)
        : (alias) => tag.raw(`json_each(${alias}.properties, '$.productIds')`)
    const value = engine === 'postgres' ? tag.raw('i.i') : tag.raw('i.value')
    const value2 = engine === 'postgres' ? tag.raw('o.o') : tag.raw('o.value')
    const mysqlItems = (alias, name) =>
      tag.raw(
        `json_table(${alias}.properties, '$.productIds[*]' columns (${name} varchar(255) character set utf8mb4 collate utf8mb4_bin path '$')) t_${name}`,
      )
    const boughtLive = await timeIt(
      () =>
        (engine === 'mysql'
          ? tag`with buyers as (select distinct e.user_id from mortar_analytics_event e, ${mysqlItems('e', 'i')} where e.name = 'order_completed' and i = ${item}) select o as other, count(distinct e.user_id) as n from mortar_analytics_event e join buyers b on b.user_id = e.user_id, ${mysqlItems('e', 'o')} where e.name = 'order_completed' and o <> ${item} group by 1 order by 2 desc limit 10`
          : engine === 'postgres'
            ? tag`with buyers as (select distinct e.user_id from mortar_analytics_event e, ${itemsSql('e')} as i(i) where e.name = 'order_completed' and ${value} = ${item}) select ${value2} as other, count(distinct e.user_id) as n from mortar_analytics_event e join buyers b on b.user_id = e.user_id, ${itemsSql('e')} as o(o) where e.name = 'order_completed' and ${value2} <> ${item} group by 1 order by 2 desc limit 10`
            : tag`with buyers as (select distinct e.user_id from mortar_analytics_event e, ${itemsSql('e')} as i where e.name = 'order_completed' and ${value} = ${item}) select ${value2} as other, count(distinct e.user_id) as n from mortar_analytics_event e join buyers b on b.user_id = e.user_id, ${itemsSql('e')} as o where e.name = 'order_completed' and ${value2} <> ${item} group by 1 order by 2 desc limit 10`
        ).execute(sql),
      5,
    )
    console.log(
      `  also-bought for one item: rollups ${boughtRollup.toFixed(2)} ms, live SQL ${boughtLive.toFixed(1)} ms (${(boughtLive / boughtRollup).toFixed(0)}x; goal <= 5 ms)`,
    )
    const funnelMs = await timeIt(
      () =>
        analytics.funnel(
          [{ event: 'product_viewed' }, { event: 'cart_added' }, { event: 'order_completed' }],
          { from: new Date(today - 29 * DAY), to, windowMs: DAY },
        ),
      3,
    )
    console.log(`  3-step funnel over 30 days: ${fmt(funnelMs)} ms`)
  } finally {
    await app.stop()
    await database?.drop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

// BENCH_ANALYTICS_ONLY=ingest,track,burst,queries runs some sections (all by default).
const SECTIONS = new Set(
  (process.env.BENCH_ANALYTICS_ONLY ?? 'ingest,track,burst,queries')
    .split(',')
    .map((s) => s.trim()),
)

// BENCH_ANALYTICS_ENGINES=postgres,sqlite,mysql picks the ingest and query sections' engines (all
// by default).
const ENGINES = (process.env.BENCH_ANALYTICS_ENGINES ?? 'postgres,sqlite,mysql')
  .split(',')
  .map((s) => s.trim())

export async function run() {
  console.log('# analytics')
  if (SECTIONS.has('ingest')) {
    if (ENGINES.includes('postgres')) await ingestPostgres()
    if (ENGINES.includes('sqlite')) await ingestSqlite()
    if (ENGINES.includes('mysql') && MYSQL === undefined) {
      console.log('ingest on MariaDB skipped: set MORTAR_BENCH_MYSQL_URL or MORTAR_TEST_MYSQL_URL')
    } else if (ENGINES.includes('mysql')) {
      await ingestMysql()
    }
  }
  if (SECTIONS.has('track')) await trackCost()
  if (SECTIONS.has('burst')) await burst()
  if (SECTIONS.has('queries')) {
    for (const engine of ENGINES) {
      if (engine === 'mysql' && MYSQL === undefined) {
        console.log(
          'queries on MariaDB skipped: set MORTAR_BENCH_MYSQL_URL or MORTAR_TEST_MYSQL_URL',
        )
        continue
      }
      await queries(engine)
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
