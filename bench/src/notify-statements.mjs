// Counts what draining the delivery ledger sends to PostgreSQL, against bare jobs: statements
// by kind (node-postgres queries, with their mean latency) and WAL bytes per job, draining
// BENCH_NOTIFY_JOBS (1,000) of each at the default worker settings. Not a rate: the work.
// The WAL figure is the server's, so other sessions writing meanwhile add to it.
import { performance } from 'node:perf_hooks'
import { createApp, createLogger, defineJob, defineModule, JOBS } from '@mortar/core'
import { NOTIFIER, Notification, notifyModule } from '@mortar/notify'
import pg from 'pg'
import { z } from 'zod'
import { privateDatabase, servers } from './measure.mjs'

const N = Number(process.env.BENCH_NOTIFY_JOBS ?? 1_000)

const counts = new Map()
let counting = false
const query = pg.Client.prototype.query
pg.Client.prototype.query = function (config, ...rest) {
  const result = query.call(this, config, ...rest)
  if (counting) {
    const text = typeof config === 'string' ? config : (config?.text ?? '')
    const kind = text.replace(/\s+/g, ' ').trim().slice(0, 60)
    const entry = counts.get(kind) ?? { n: 0, ms: 0 }
    counts.set(kind, entry)
    entry.n += 1
    const started = performance.now()
    result?.then?.(
      () => {
        entry.ms += performance.now() - started
      },
      () => {},
    )
  }
  return result
}

class Ping extends Notification {
  type = 'bench.ping'
  via() {
    return ['sms']
  }
  toSms() {
    return { text: 'ping' }
  }
}
const sms = {
  name: 'sms',
  idempotent: true,
  route: (r) => r.id,
  send: async () => ({ status: 'accepted' }),
}
const noop = defineJob({ name: 'bench.noop', schema: z.object({ id: z.string() }), handler() {} })

const admin = new pg.Client(servers.postgres)
await admin.connect()
const walBytes = async (from) =>
  Number(
    (await admin.query('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1) as d', [from])).rows[0].d,
  )
const database = await privateDatabase('postgres')
const app = createApp({
  database: { url: database.url, pool: 16 },
  logger: createLogger({ level: 'silent' }),
  jobs: { workers: false },
  modules: [
    defineModule({ name: 'bench', register() {}, jobs: [noop] }),
    notifyModule({ channels: [sms] }),
  ],
})
try {
  await app.migrate()
  await app.start()
  const jobs = app.resolve(JOBS)
  const recipients = Array.from({ length: 100 }, (_, i) => ({ id: `user-${i}` }))
  const sides = {
    'bare jobs': () =>
      jobs.enqueueMany(
        noop,
        Array.from({ length: N }, (_, i) => ({ payload: { id: String(i) } })),
      ),
    ledger: async () => {
      for (let i = 0; i < N; i += recipients.length)
        await app.resolve(NOTIFIER).notify(recipients, new Ping())
    },
  }
  for (const [side, write] of Object.entries(sides)) {
    await write()
    const { rows } = await admin.query('select pg_current_wal_lsn() as lsn')
    counting = true
    await jobs.drain({ timeoutMs: 600_000 })
    counting = false
    const wal = await walBytes(rows[0].lsn)
    const total = [...counts.values()].reduce((sum, entry) => sum + entry.n, 0)
    console.log(
      `${side}: ${total} statements to drain ${N}, ${Math.round(wal / N)} bytes of WAL a job`,
    )
    for (const [kind, { n, ms }] of [...counts].sort((a, b) => b[1].n - a[1].n))
      console.log(`  ${String(n).padStart(5)}  ${(ms / n).toFixed(2).padStart(7)} ms  ${kind}`)
    counts.clear()
  }
  // Connections publish their table counters as they close.
  await app.stop()
  await new Promise((resolve) => setTimeout(resolve, 500))
  const schema = new URL(database.url).searchParams.get('options')?.split('search_path=')[1]
  const { rows } = await admin.query(
    `select n_tup_upd as updated, n_tup_hot_upd as hot from pg_stat_user_tables where schemaname = $1 and relname = 'mortar_delivery'`,
    [schema],
  )
  console.log(`delivery rows updated ${rows[0]?.updated}, of which in-page (HOT) ${rows[0]?.hot}`)
} finally {
  await app.stop()
  await database.drop()
  await admin.end()
}
