// @mortar/notify against what a user would otherwise run, in one process run with interleaved
// rounds (order flipped each round), medians of per-round ratios:
// 1. ledger: notifications through the delivery ledger to a no-op channel against core's bare
//    jobs doing the same no-op, with the SQL queue (goal: >= 0.8x). Both sides
//    write their rows first, then one drain() runs them with the same worker settings; the
//    figure is the processing rate, and the write rate is printed beside it. On PostgreSQL the
//    same rounds run the ceiling: only the writes the issue requires of a delivery, batched as
//    well as they can be, on bare node-postgres (notify-raw-ledger.mjs).
// 2. request: a transaction inserting an order row and calling notify() for one recipient on
//    two channels against the same transaction without notify() (goal: >= 0.8x). The goal is
//    about the request transaction, so by default nothing delivers while it is measured (no
//    worker runs; what was enqueued is purged after each round). BENCH_NOTIFY_DELIVERY=separate
//    runs the deliveries meanwhile in a worker process of its own on the same machine, so the
//    side with notify() (and the one with a bare job) also pays for delivering. On PostgreSQL,
//    with nothing delivering, the same rounds also run the ceiling: the transaction on bare
//    node-postgres with and without the same rows written by hand (notify-raw-request.mjs).
// 3. mail: mails to a local SMTP server (smtp-server, in-process) through the mail channel's
//    pooled transport against nodemailer's pooled transport alone (goal: >= 0.9x).
// 1 and 2 run on PostgreSQL, SQLite and MariaDB (BENCH_NOTIFY_ENGINES, comma-separated).
// 4. bullmq (BENCH_NOTIFY_ENGINES entry `bullmq`): the ledger on core's BullMQ engine (PostgreSQL
//    outbox, Redis under a private key prefix) against raw BullMQ jobs doing the same no-op
//    (goal: >= 0.8x), measured as jobs-bullmq.mjs measures processing: the rows written and
//    relayed first, then workers of the same concurrency started on the full queue until every
//    delivery (or job) ran. The same rounds run the ceiling: only what the issue requires of a
//    delivery, on raw BullMQ and bare node-postgres (notify-raw-bullmq-ledger.mjs).
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import {
  createApp,
  createLogger,
  DATABASE,
  defineJob,
  defineModule,
  JOBS,
  transaction,
} from '@mortar/core'
import {
  DELIVERIES,
  mailChannel,
  Notification,
  NOTIFIER,
  notifyModule,
  smtpTransport,
} from '@mortar/notify'
import nodemailer from 'nodemailer'
import { SMTPServer } from 'smtp-server'
import { deleteRedisKeys, privateRedisPrefix } from '@mortar/core/testing'
import { Redis } from 'ioredis'
import { z } from 'zod'
import { CONCURRENCY, rawProcessing } from './jobs-bullmq.mjs'
import { rawBullmqLedgerSide } from './notify-raw-bullmq-ledger.mjs'
import { rawLedgerSides } from './notify-raw-ledger.mjs'
import { rawRequestSides } from './notify-raw-request.mjs'
import { shopCheckoutSides, vacuumAfterDeletes } from './notify-shop-checkout.mjs'
import {
  interleave,
  median,
  medianRatio,
  privateDatabase,
  servers,
  startServer,
  throughput,
} from './measure.mjs'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const JOBS_PER_ROUND = Number(process.env.BENCH_NOTIFY_JOBS ?? 5_000)
const REQUESTS = Number(process.env.BENCH_NOTIFY_REQUESTS ?? 2_000)
const MAILS = Number(process.env.BENCH_NOTIFY_MAILS ?? 2_000)
const ENGINES = (process.env.BENCH_NOTIFY_ENGINES ?? 'postgres,sqlite,mysql,bullmq').split(',')
const DELIVERY = process.env.BENCH_NOTIFY_DELIVERY ?? 'paused'
const CASES = (process.env.BENCH_NOTIFY_CASES ?? 'ledger,request,mail').split(',')
const TITLES = { sqlite: 'SQLite', postgres: 'PostgreSQL', mysql: 'MariaDB' }
const REQUEST_WORKERS = 16
const MAIL_CONCURRENCY = 20
const silent = createLogger({ level: 'silent' })

const fmt = (value) => Math.round(value).toLocaleString('en')
const verdict = (ratio, goal) =>
  `ratio ${ratio.toFixed(3)} ${ratio >= goal ? `(goal >= ${goal} met)` : `(BELOW the ${goal} goal)`}`

/**
 * A channel that accepts everything at once, calling `sent` for each message. Idempotent, as
 * the SMS, webhook and inbox channels are (a resend under one delivery id is one message), so
 * the ledger writes no `sending` mark before its sends.
 */
export function noopChannel(name, sent = () => {}) {
  return {
    name,
    idempotent: true,
    route: (recipient) => recipient.id,
    send: async () => {
      sent()
      return { status: 'accepted' }
    },
  }
}

export class Ping extends Notification {
  type = 'bench.ping'
  via() {
    return ['sms']
  }
  toSms() {
    return { text: 'ping' }
  }
}

class OrderPlaced extends Notification {
  type = 'bench.order_placed'
  constructor(orderId) {
    super()
    this.orderId = orderId
  }
  via() {
    return ['sms', 'chat']
  }
  toSms() {
    return { text: `Order ${this.orderId} placed` }
  }
  toChat() {
    return { text: `Order ${this.orderId} placed` }
  }
}

/**
 * The app of the ledger case, started on `url`: a bare no-op job and notify's no-op channels.
 * `writeJobs(n)` enqueues n bare jobs, `writeDeliveries(n)` notifies 100 recipients at a time
 * (100 deliveries and 100 jobs a call), `emptyLedger()` prunes every delivery.
 */
export async function ledgerApp(url) {
  const noop = defineJob({ name: 'bench.noop', schema: z.object({ id: z.string() }), handler() {} })
  const app = createApp({
    database: { url, pool: REQUEST_WORKERS },
    logger: silent,
    jobs: { workers: false },
    modules: [
      defineModule({ name: 'bench', register() {}, jobs: [noop] }),
      notifyModule({ channels: [noopChannel('sms'), noopChannel('chat')] }),
    ],
  })
  await app.migrate()
  await app.start()
  const jobs = app.resolve(JOBS)
  const notifier = app.resolve(NOTIFIER)
  const deliveries = app.resolve(DELIVERIES)
  const recipients = Array.from({ length: 100 }, (_, i) => ({ id: `user-${i}` }))
  return {
    app,
    jobs,
    async writeJobs(n) {
      for (let i = 0; i < n; i += 500) {
        const count = Math.min(500, n - i)
        await jobs.enqueueMany(
          noop,
          Array.from({ length: count }, (_, j) => ({ payload: { id: String(i + j) } })),
        )
      }
    },
    async writeDeliveries(n) {
      for (let i = 0; i < n; i += recipients.length) await notifier.notify(recipients, new Ping())
    },
    // PostgreSQL here has no autovacuum: the same starting point every round.
    emptyLedger: () => deliveries.prune(new Date(Date.now() + 86_400_000)),
  }
}

async function ledgerVersusJobs(url, engine) {
  const { app, jobs, writeJobs, writeDeliveries, emptyLedger } = await ledgerApp(url)
  const variants = {
    async jobs() {
      const started = performance.now()
      await writeJobs(JOBS_PER_ROUND)
      const written = performance.now()
      await jobs.drain({ timeoutMs: 600_000 })
      return {
        write: JOBS_PER_ROUND / ((written - started) / 1000),
        run: JOBS_PER_ROUND / ((performance.now() - written) / 1000),
      }
    },
    async ledger() {
      const started = performance.now()
      await writeDeliveries(JOBS_PER_ROUND)
      const written = performance.now()
      await jobs.drain({ timeoutMs: 600_000 })
      const run = JOBS_PER_ROUND / ((performance.now() - written) / 1000)
      await emptyLedger()
      return { write: JOBS_PER_ROUND / ((written - started) / 1000), run }
    },
  }
  // On PostgreSQL, the ceiling: the required writes alone on bare node-postgres, same rounds.
  const raw = engine === 'postgres' ? await rawLedgerSides(url, JOBS_PER_ROUND) : undefined
  Object.assign(variants, raw?.sides)
  let figures
  try {
    figures = await interleave(variants, { rounds: ROUNDS })
  } finally {
    await raw?.close()
    await app.stop()
  }
  const rates = {}
  const writes = {}
  for (const [name, list] of Object.entries(figures)) {
    rates[name] = list.map((figure) => figure.run)
    writes[name] = list.map((figure) => figure.write)
  }
  console.log(
    `ledger    ${TITLES[engine]}, SQL queue: bare jobs ${fmt(median(rates.jobs))} jobs/s, ledger ${fmt(median(rates.ledger))} notifications/s processed, ${verdict(medianRatio(rates.ledger, rates.jobs), 0.8)}`,
  )
  console.log(
    `          written first: bare enqueueMany ${fmt(median(writes.jobs))} jobs/s, notify() to 100 recipients ${fmt(median(writes.ledger))} deliveries/s`,
  )
  if (raw === undefined) return
  const rawJobs = rates['raw jobs']
  const rawLedger = rates['raw ledger']
  // Core's bare jobs plus only what the delivery rows cost on the bare driver, per round.
  const onCore = rawLedger.map(
    (rate, round) => 1 / (1 / rates.jobs[round] + 1 / rate - 1 / rawJobs[round]),
  )
  console.log(
    `          ceiling on bare pg (the rows the issue requires, batched: claim reading each job's delivery row, one statement deleting the jobs and marking their deliveries sent): ${fmt(median(rawLedger))} deliveries/s, bare jobs on bare pg ${fmt(median(rawJobs))} jobs/s; ceiling/bare jobs ${medianRatio(rawLedger, rates.jobs).toFixed(3)}, ledger/ceiling ${medianRatio(rates.ledger, rawLedger).toFixed(3)}; the rows' cost on bare pg ${medianRatio(rawLedger, rawJobs).toFixed(3)}`,
  )
  console.log(
    `          the ledger's ceiling on core's jobs (bare jobs plus what the rows cost on bare pg) ${fmt(median(onCore))}/s: ceiling/bare jobs ${medianRatio(onCore, rates.jobs).toFixed(3)}, ledger/ceiling ${medianRatio(rates.ledger, onCore).toFixed(3)}`,
  )
}

/**
 * The ledger on core's BullMQ engine with the outbox on PostgreSQL at `url` and BullMQ's keys
 * under `prefix`: `migrate()`, then `run(total, window)` writes `total` deliveries (notify() to
 * 100 recipients at a time) and relays them with workers off, then starts an app with workers of
 * the raw side's concurrency on the full queue until every delivery went to the no-op channel;
 * resolves to the rate, `window` (bench:notify-bullmq-cpu's CPU probe) hearing when the timed part
 * starts and ends.
 */
export function ledgerOnBullmqSide(url, prefix) {
  let sent = 0
  let waiting
  const bump = () => {
    sent += 1
    if (waiting !== undefined && sent >= waiting.n) waiting.resolve()
  }
  const app = (workers) =>
    createApp({
      database: url,
      redis: { url: servers.redis, prefix },
      logger: silent,
      jobs: { engine: 'bullmq', workers },
      modules: [notifyModule({ channels: [noopChannel('sms', bump), noopChannel('chat', bump)] })],
    })
  const recipients = Array.from({ length: 100 }, (_, i) => ({ id: `user-${i}` }))
  return {
    async migrate() {
      const migrator = app(false)
      await migrator.migrate()
      await migrator.stop()
    },
    async run(total, window = undefined) {
      const writer = app(false)
      await writer.start()
      // Same starting point every round: an empty ledger.
      await writer.resolve(DELIVERIES).prune(new Date(Date.now() + 86_400_000))
      for (let i = 0; i < total; i += recipients.length)
        await writer.resolve(NOTIFIER).notify(recipients, new Ping())
      // Every row in BullMQ before the clock starts, as on the raw side.
      await writer.resolve(JOBS).adapter.announce()
      await writer.stop()
      sent = 0
      const done = new Promise((resolve) => (waiting = { n: total, resolve }))
      const worker = app({ concurrency: CONCURRENCY, batchSize: CONCURRENCY })
      await window?.start()
      const started = performance.now()
      await worker.start()
      await done
      const seconds = (performance.now() - started) / 1_000
      await window?.end()
      await worker.stop()
      return total / seconds
    },
  }
}

async function ledgerOnBullmq() {
  const database = await privateDatabase('postgres')
  const prefix = privateRedisPrefix()
  const connection = new Redis(servers.redis)
  const ledger = ledgerOnBullmqSide(database.url, prefix)
  const ceiling = rawBullmqLedgerSide(database.url, connection, `${prefix}ceiling`)
  let round = 0
  const variants = {
    raw: () => rawProcessing(connection, `${prefix}raw`, round++, JOBS_PER_ROUND),
    ledger: () => ledger.run(JOBS_PER_ROUND),
    ceiling: () => ceiling.run(round, JOBS_PER_ROUND, CONCURRENCY, () => {}),
  }
  let rates
  try {
    await ledger.migrate()
    rates = await interleave(variants, { rounds: ROUNDS })
  } finally {
    await ceiling.close()
    connection.disconnect()
    await deleteRedisKeys(servers.redis, prefix)
    await database.drop()
  }
  console.log(
    `bullmq    PostgreSQL outbox, concurrency ${CONCURRENCY}: raw BullMQ ${fmt(median(rates.raw))} jobs/s, ledger ${fmt(median(rates.ledger))} notifications/s processed, ${verdict(medianRatio(rates.ledger, rates.raw), 0.8)}`,
  )
  console.log(
    `          ceiling on raw BullMQ + bare pg (each job's delivery row read, only a queued one sent, its result written durably, reads and results batched across running jobs): ${fmt(median(rates.ceiling))} deliveries/s, ceiling/raw BullMQ ${medianRatio(rates.ceiling, rates.raw).toFixed(3)}, ledger/ceiling ${medianRatio(rates.ledger, rates.ceiling).toFixed(3)}`,
  )
}

const receipt = defineJob({
  name: 'bench.receipt',
  schema: z.object({ id: z.string() }),
  handler() {},
})

/** The request comparison's app; `workers` for the separate delivery process. */
export function requestApp(url, workers) {
  return createApp({
    database: { url, pool: REQUEST_WORKERS },
    logger: silent,
    jobs: { workers },
    modules: [
      defineModule({ name: 'bench', register() {}, jobs: [receipt] }),
      notifyModule({ channels: [noopChannel('sms'), noopChannel('chat')] }),
    ],
  })
}

/**
 * The request comparison's transactions on `app`'s `database` (its order table created here):
 * `plain` inserts an order, `enqueue` also one bare job, `notify` instead calls notify() for one
 * recipient on two channels.
 */
export async function requestVariants(app, database) {
  await database.root.schema
    .createTable('bench_order')
    .addColumn('id', 'varchar(36)', (c) => c.primaryKey())
    .addColumn('total', 'integer', (c) => c.notNull())
    .execute()
  const order = (id) =>
    database.kysely.insertInto('bench_order').values({ id, total: 42 }).execute()
  const notifier = app.resolve(NOTIFIER)
  const jobs = app.resolve(JOBS)
  let next = 0
  return {
    plain: () => transaction(() => order(`o-${next++}`), { database }),
    enqueue: () =>
      transaction(
        async () => {
          const id = `o-${next++}`
          await order(id)
          await jobs.enqueue(receipt, { id })
        },
        { database },
      ),
    notify: () =>
      transaction(
        async () => {
          const id = `o-${next++}`
          await order(id)
          await notifier.notify({ id: `user-${next % 50}` }, new OrderPlaced(id))
        },
        { database },
      ),
  }
}

async function requestTransaction(url, engine) {
  if (DELIVERY !== 'paused' && DELIVERY !== 'separate') {
    throw new Error(`BENCH_NOTIFY_DELIVERY is 'paused' or 'separate', not '${DELIVERY}'`)
  }
  const app = requestApp(url, false)
  await app.migrate()
  await app.start()
  const deliverer =
    DELIVERY === 'separate'
      ? await startServer(new URL('./notify-delivery-worker.mjs', import.meta.url), [url])
      : undefined
  const database = app.resolve(DATABASE)
  const variants = await requestVariants(app, database)
  // On PostgreSQL, the ceiling: the same transaction on bare node-postgres, in the same rounds.
  const raw =
    engine === 'postgres' && DELIVERY === 'paused'
      ? await rawRequestSides(url, REQUEST_WORKERS)
      : undefined
  Object.assign(variants, raw?.sides)
  let rates
  try {
    rates = await interleave(
      Object.fromEntries(
        Object.entries(variants).map(([name, one]) => [
          name,
          () => throughput(REQUEST_WORKERS, REQUESTS, one),
        ]),
      ),
      {
        rounds: ROUNDS,
        afterRound: async () => {
          await app.resolve(JOBS).purge(['pending', 'scheduled'])
          // With nothing delivering every delivery stays queued, which prune() keeps: deleted,
          // so that no round writes into a larger table than the one before.
          if (DELIVERY === 'paused') await database.root.deleteFrom('mortar_delivery').execute()
          else await app.resolve(DELIVERIES).prune(new Date(Date.now() + 86_400_000))
          await vacuumAfterDeletes(database, engine, ['mortar_job', 'mortar_delivery'])
        },
      },
    )
  } finally {
    await raw?.close()
    await deliverer?.stop()
    await app.stop()
  }
  const delivery =
    DELIVERY === 'paused'
      ? 'nothing delivering meanwhile'
      : 'a separate worker process delivering meanwhile'
  console.log(
    `request   ${TITLES[engine]}, ${delivery}: transaction without notify() ${fmt(median(rates.plain))} tx/s, with notify() to 1 recipient on 2 channels ${fmt(median(rates.notify))} tx/s, ${verdict(medianRatio(rates.notify, rates.plain), 0.8)}`,
  )
  console.log(
    `          for scale: the same transaction enqueueing one bare job ${fmt(median(rates.enqueue))} tx/s, ratio ${medianRatio(rates.enqueue, rates.plain).toFixed(3)}`,
  )
  if (raw === undefined) return
  const without = rates['raw without']
  const rows = rates['raw with the rows']
  const oneJob = rates['raw with one job for both']
  const deliveriesAlone = rates['raw with the delivery rows alone']
  // Mortar's transaction without notify() plus only what the rows cost on the bare driver.
  const ceiling = (side) =>
    median(
      side.map((rate, round) => 1 / (1 + rates.plain[round] * (1 / rate - 1 / without[round]))),
    )
  console.log(
    `          ceiling on bare pg: without ${fmt(median(without))} tx/s, with the same 2 delivery + 2 job rows by hand (prepared, sent with the COMMIT) ${fmt(median(rows))} tx/s, ratio ${medianRatio(rows, without).toFixed(3)}; with one job for both deliveries ${fmt(median(oneJob))} tx/s, ratio ${medianRatio(oneJob, without).toFixed(3)}; the 2 delivery rows alone ${fmt(median(deliveriesAlone))} tx/s, ratio ${medianRatio(deliveriesAlone, without).toFixed(3)}`,
  )
  console.log(
    `          notify()'s ceiling on this row model (Mortar's transaction without it, plus what the rows cost on bare pg): ratio ${ceiling(rows).toFixed(3)}; with one job for both deliveries ${ceiling(oneJob).toFixed(3)}; with the delivery rows alone (a delivery its own queue entry) ${ceiling(deliveriesAlone).toFixed(3)}`,
  )
}

/**
 * The request case's realistic transaction: the shop's checkout with and without its notify()
 * (notify-shop-checkout.mjs), on a private database of `engine` of its own, nothing delivering.
 */
async function shopCheckout(engine) {
  const target = await privateDatabase(engine)
  let rates
  try {
    const shop = await shopCheckoutSides(target.url, engine)
    try {
      rates = await interleave(
        Object.fromEntries(
          Object.entries(shop.sides).map(([name, one]) => [
            name,
            () => throughput(REQUEST_WORKERS, REQUESTS, one),
          ]),
        ),
        { rounds: ROUNDS, afterRound: shop.afterRound },
      )
    } finally {
      await shop.close()
    }
  } finally {
    await target.drop()
  }
  const plain = rates['shop checkout']
  const notifying = rates['shop checkout with notify']
  console.log(
    `          the shop's checkout (card and products read, order, 2 lines, stock taken), nothing delivering meanwhile: without notify() ${fmt(median(plain))} tx/s, with its notify() (order confirmed, keyed: mail + inbox) ${fmt(median(notifying))} tx/s, ratio ${medianRatio(notifying, plain).toFixed(3)}`,
  )
}

async function mail() {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => {})
      stream.on('end', () => callback())
    },
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `smtp://127.0.0.1:${server.server.address().port}`
  const from = 'Shop <shop@example.com>'
  const message = {
    subject: 'Your receipt',
    text: 'Thanks for your order.',
    html: '<p>Thanks for your order.</p>',
  }
  const channel = mailChannel({
    from,
    transport: smtpTransport({ url, maxConnections: 5, maxMessages: 100 }),
  })
  await channel.open()
  const transport = nodemailer.createTransport({
    url,
    pool: true,
    maxConnections: 5,
    maxMessages: 100,
  })
  let n = 0
  const variants = {
    nodemailer: () => transport.sendMail({ from, to: `user${n++}@example.com`, ...message }),
    mortar: async () => {
      const id = `d-${n++}`
      const result = await channel.send({
        id,
        to: `user${n}@example.com`,
        message,
        recipientId: id,
        type: 'receipt',
        attempt: 1,
        signal: AbortSignal.timeout(30_000),
      })
      if (result.status !== 'accepted') throw new Error(result.reason)
    },
  }
  let rates
  try {
    rates = await interleave(
      {
        nodemailer: () => throughput(MAIL_CONCURRENCY, MAILS, variants.nodemailer),
        mortar: () => throughput(MAIL_CONCURRENCY, MAILS, variants.mortar),
      },
      { rounds: ROUNDS },
    )
  } finally {
    transport.close()
    await channel.close()
    await new Promise((resolve) => server.close(resolve))
  }
  console.log(
    `mail      local SMTP, pooled (5 connections): nodemailer alone ${fmt(median(rates.nodemailer))} mails/s, mail channel ${fmt(median(rates.mortar))} mails/s, ${verdict(medianRatio(rates.mortar, rates.nodemailer), 0.9)}`,
  )
}

export async function run() {
  console.log(`@mortar/notify (${ROUNDS} interleaved rounds, medians)`)
  for (const engine of ENGINES) {
    if (engine === 'bullmq') {
      if (CASES.includes('ledger')) await ledgerOnBullmq()
      continue
    }
    if (!CASES.includes('ledger') && !CASES.includes('request')) continue
    let target
    try {
      target = await privateDatabase(engine)
    } catch (error) {
      console.log(`ledger, request  skipped on ${TITLES[engine]}: unreachable (${error.message})`)
      continue
    }
    try {
      if (CASES.includes('ledger')) await ledgerVersusJobs(target.url, engine)
      if (CASES.includes('request')) {
        await requestTransaction(target.url, engine)
        if (DELIVERY === 'paused') await shopCheckout(engine)
      }
    } finally {
      await target.drop()
    }
  }
  if (CASES.includes('mail')) await mail()
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await run()
