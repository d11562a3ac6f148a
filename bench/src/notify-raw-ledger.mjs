// The ledger comparison's ceiling on PostgreSQL: what the issue requires of each delivery, done
// on bare node-postgres, no Kysely and no Mortar, in the tables the ledger and core's queue use.
// A durable delivery row written with its job (one statement per 100, as notify() to 100
// recipients sends them), then each job claimed under a lease with its delivery row read in the
// same statement (what a send needs: address and message; only a still queued row is sent),
// a no-op send, and the job deleted with its delivery moved to `sent` with its attempts in one
// durable statement per batch. The same shape as core's worker at its default settings: claims
// of 50, one in flight while the finished batches complete on a second connection, batches
// finished meanwhile merged into the next completion. No implementation of that design can do
// fewer writes or round trips per delivery; this one pays nothing else (no preferences, no
// events, no schema validation, no async context).
import { randomUUID } from 'node:crypto'
import { uuidV7 } from '@mortar/core'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { DELIVERY_COLUMNS, placeholders } from './notify-raw-rows.mjs'

const require = createRequire(import.meta.url)

const PER_WRITE = 100
const BATCH = 50
const LEASE_MS = 30_000
const NAME = 'bench.raw_deliver'

const INSERT_JOBS = (offset) =>
  `insert into mortar_job (name, payload, run_at, max_attempts, created_at) values ${placeholders(PER_WRITE, 5, offset)}`
const WRITE = `with deliveries as (insert into mortar_delivery (${DELIVERY_COLUMNS}) values ${placeholders(PER_WRITE, 15, 0)}) ${INSERT_JOBS(PER_WRITE * 15)}`

// Core's due condition and order (its `mortar_job_due` index), the claimed ids probed through
// the primary key, each job's delivery row read by its primary key beside it.
const CLAIM = `with next as (
    select id from mortar_job where dead_at is null and run_at <= $1 and (locked_by is null or locked_by <> $2)
      and name = $3 order by run_at, id limit $4 for update skip locked
  ), claimed as (
    update mortar_job set locked_by = $2, run_at = $5, attempts = attempts + 1, progress = null
    where id = any(array(select id from next)) returning id, payload, attempts
  )
  select c.id as job, c.attempts, d.id, d.channel, d.address, d.message
  from claimed as c left join lateral (
    select id, channel, address, message from mortar_delivery
    where id = (c.payload::json ->> 'id') and status in ('queued', 'failed')
  ) as d on true`

// The bare jobs' claim on the same driver: the same, without the delivery rows.
const CLAIM_JOBS = `${CLAIM.slice(0, CLAIM.indexOf('  select c.id'))}  select id as job, payload from claimed`

// The jobs the worker still held are deleted and only their deliveries move to `sent`.
const COMPLETE = `with done as (
    delete from mortar_job where locked_by = $1 and id = any($2::bigint[]) returning id
  )
  update mortar_delivery as d set status = 'sent', attempts = v.attempts, sent_at = $5, updated_at = $5
  from unnest($2::bigint[], $3::text[], $4::integer[]) as v(job, id, attempts)
  join done on done.id = v.job
  where d.id = v.id and d.status in ('queued', 'failed')`
const COMPLETE_JOBS = 'delete from mortar_job where locked_by = $1 and id = any($2::bigint[])'

/**
 * Sides for `interleave()` on the migrated database at `url` (the notify module's tables and
 * core's `mortar_job`): each call writes `n` deliveries with their jobs (`raw ledger`), or `n`
 * bare jobs (`raw jobs`), then drains them; resolves to `{ write, run }` (per second), as the
 * ledger's and bare jobs' sides do. `close()`. `hooks.written()` and `hooks.drained()`, when
 * given, are awaited around each drain (after the writes, before the cleanup): what a CPU probe
 * measures.
 */
export async function rawLedgerSides(url, n, hooks = {}) {
  const pg = require('pg')
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  const [claimer, completer] = await Promise.all([pool.connect(), pool.connect()])
  const message = JSON.stringify({ text: 'ping' })
  const side = (deliveries) => async () => {
    const worker = `raw-${randomUUID()}`
    const started = performance.now()
    for (let i = 0; i < n; i += PER_WRITE) {
      const now = Date.now()
      const notificationId = randomUUID()
      const rows = []
      const jobs = []
      for (let r = 0; r < PER_WRITE; r += 1) {
        const id = uuidV7(now)
        const recipient = `user-${r}`
        rows.push(id, notificationId, 'bench.ping', 'default', recipient, 'sms', recipient)
        rows.push(message, 'queued', null, now, now, now, 0, 0)
        jobs.push(NAME, JSON.stringify({ id }), now, 8, now)
      }
      await claimer.query(
        deliveries
          ? { name: 'raw_ledger_write', text: WRITE, values: [...rows, ...jobs] }
          : { name: 'raw_jobs_write', text: INSERT_JOBS(0), values: jobs },
      )
    }
    const written = performance.now()
    await hooks.written?.()
    let pending = []
    let completing
    // One completion in flight; batches finished meanwhile go together in the next.
    const complete = async () => {
      while (pending.length > 0) {
        const batch = pending
        pending = []
        const jobs = batch.map((row) => row.job)
        await completer.query(
          deliveries
            ? {
                name: 'raw_ledger_complete',
                text: COMPLETE,
                values: [
                  worker,
                  jobs,
                  batch.map((row) => row.id),
                  batch.map((row) => row.attempts),
                  Date.now(),
                ],
              }
            : { name: 'raw_jobs_complete', text: COMPLETE_JOBS, values: [worker, jobs] },
        )
      }
      completing = undefined
    }
    for (;;) {
      const now = Date.now()
      const { rows } = await claimer.query({
        name: deliveries ? 'raw_ledger_claim' : 'raw_jobs_claim',
        text: deliveries ? CLAIM : CLAIM_JOBS,
        values: [now, worker, NAME, BATCH, now + LEASE_MS],
      })
      if (rows.length === 0) break
      // The no-op send: of each still queued delivery, with what the channel is given.
      for (const row of rows) {
        if (!deliveries) noop(JSON.parse(row.payload).id)
        else if (row.id !== null) noop(row.address, JSON.parse(row.message).text)
      }
      pending.push(...rows)
      completing ??= complete()
    }
    await completing
    await hooks.drained?.()
    const run = n / ((performance.now() - written) / 1000)
    // Same starting point every round, outside the timing: the ledger prunes its rows and core
    // vacuums its table every 5,000 finished jobs, counted on its own side only.
    if (deliveries) {
      const sent = await claimer.query(`delete from mortar_delivery where status = 'sent'`)
      if (sent.rowCount !== n) throw new Error(`the raw ledger sent ${sent.rowCount} of ${n}`)
    }
    await claimer.query('vacuum (analyze) mortar_job, mortar_delivery')
    return { write: n / ((written - started) / 1000), run }
  }
  return {
    sides: { 'raw jobs': side(false), 'raw ledger': side(true) },
    async close() {
      claimer.release()
      completer.release()
      await pool.end()
    },
  }
}

function noop(...values) {
  if (values.some((value) => typeof value !== 'string')) throw new Error('a bad row')
}
