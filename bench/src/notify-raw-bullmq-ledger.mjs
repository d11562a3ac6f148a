// The ledger comparison's ceiling on BullMQ: what the issue requires of each delivery, done on
// raw BullMQ and bare node-postgres, no Kysely and no Mortar, in the ledger's own table. A durable
// delivery row in PostgreSQL and a BullMQ job per delivery, written first (as the ledger side's
// notify() and relay are); then a worker on the full queue that takes up to `concurrency` jobs at
// a time (BullMQ's `getNextJob`, as core's engine claims), reads their delivery rows in one
// prepared statement (only a still queued row is sent), makes the no-op sends, and hands the
// batch on to be finished: its results written durably to the rows in one statement, then each
// job completed in Redis, fetching the next job as BullMQ's own worker does. A claim's read is
// under way while the next claim is taken (as core's worker claims ahead of its running jobs),
// one batch is finished at a time, the batches sent meanwhile merged into the next (waiting for
// each read before the next claim ran 0.81-0.92 times as fast, side by side at load 13-14).
// No implementation that keeps the ledger's guarantees on BullMQ (a job that
// runs twice sends once; the result durable before its job completes) does less a delivery; this
// one pays nothing else (no preferences, no events, no validation, no async context, no relay).
import { randomUUID } from 'node:crypto'
import { uuidV7 } from '@mortar/core'
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { Job, Queue, Worker } from 'bullmq'
import { DELIVERY_COLUMNS, placeholders } from './notify-raw-rows.mjs'

const require = createRequire(import.meta.url)

const PER_WRITE = 100
const ADD_BULK = 1_000

const INSERT = `insert into mortar_delivery (${DELIVERY_COLUMNS}) values ${placeholders(PER_WRITE, 15, 0)}`
// Both statements run prepared with generic plans (set on their connections), each driven by
// its ids and finding every row by a primary-key probe: the plans custom to each call scanned
// the table (its statistics of a nearly empty table), and matching the batch's rows to their
// results by id as a join filter cost the server 30-50 µs a delivery in batches of 100 or more.
// What a send needs, of the rows still to send.
const READ = `select d.id, d.channel, d.address, d.message
  from unnest($1::text[]) as k(id)
  cross join lateral (select * from mortar_delivery as t where t.id = k.id limit 1) as d
  where d.status in ('queued', 'failed')`
// The results, each kept only while its row is still to send (a second run writes nothing).
const RESULTS = `update mortar_delivery as d set status = 'sent', attempts = v.attempts, sent_at = $3, updated_at = $3
  from unnest($1::text[], $2::integer[]) as v(id, attempts)
  where d.id = v.id and d.status in ('queued', 'failed')`

/**
 * The ceiling's side on the migrated database at `url` (the notify module's tables) and the
 * Redis of `connection`, BullMQ's keys under `prefix`: `run(round, total, concurrency, sent,
 * window)` writes `total` delivery rows and their BullMQ jobs, then starts a worker of
 * `concurrency` on the full queue until every delivery was sent, calling `sent()` at each
 * no-op send (as the ledger side's channel does); resolves to the rate; `window` hears when the
 * timed part starts and ends, as for bench:notify's other BullMQ sides. `close()`.
 */
export function rawBullmqLedgerSide(url, connection, prefix) {
  const pg = require('pg')
  // One connection reads, one writes the results, one writes the rows before the clock starts.
  const pool = new pg.Pool({ connectionString: url, max: 3 })
  const message = JSON.stringify({ text: 'ping' })
  return {
    async run(round, total, concurrency, sent, window = undefined) {
      const [reader, writer] = await Promise.all([pool.connect(), pool.connect()])
      await Promise.all(
        [reader, writer].map((client) => client.query('set plan_cache_mode = force_generic_plan')),
      )
      const queue = new Queue('ceiling', { connection, prefix })
      try {
        const ids = []
        for (let i = 0; i < total; i += PER_WRITE) {
          const now = Date.now()
          const notificationId = randomUUID()
          const rows = []
          for (let r = 0; r < PER_WRITE; r += 1) {
            const id = uuidV7(now)
            const recipient = `user-${r}`
            ids.push(id)
            rows.push(id, notificationId, 'bench.ping', 'default', recipient, 'sms', recipient)
            rows.push(message, 'queued', null, now, now, now, 0, 0)
          }
          await pool.query({ name: 'ceiling_insert', text: INSERT, values: rows })
        }
        for (let i = 0; i < total; i += ADD_BULK) {
          await queue.addBulk(
            ids.slice(i, i + ADD_BULK).map((id) => ({
              name: 'bench.deliver',
              data: { id },
              opts: { jobId: `c${round}-${id}`, removeOnComplete: true, removeOnFail: false },
            })),
          )
        }
        let done = 0
        await window?.start()
        const started = performance.now()
        const workerConnection = connection.duplicate({ maxRetriesPerRequest: null })
        const worker = new Worker('ceiling', null, {
          connection: workerConnection,
          prefix,
          autorun: false,
        })
        const token = `ceiling-${randomUUID()}`
        // Jobs BullMQ moved to active for this worker in the call that completed another.
        const fetched = []
        // Sent, their results not yet written: written and completed together, one batch in
        // flight, the batches sent meanwhile merged into the next.
        let pending = []
        let completing
        let full = false
        const complete = async () => {
          while (pending.length > 0) {
            const batch = pending
            pending = []
            await writer.query({
              name: 'ceiling_results',
              text: RESULTS,
              values: [
                batch.map((job) => job.data.id),
                batch.map((job) => job.attemptsStarted),
                Date.now(),
              ],
            })
            const fetchNext = full
            const nexts = await Promise.all(
              batch.map((job) => job.moveToCompleted(null, token, fetchNext)),
            )
            for (const next of nexts) {
              if (Array.isArray(next) && next[0])
                fetched.push(Job.fromJSON(worker, next[0], next[1]))
            }
          }
          completing = undefined
        }
        // The claim read and sent once the next claim is taken: a claim's read overlaps the next
        // claim's round trip to Redis.
        let reading
        while (done < total) {
          const jobs = fetched.splice(0, concurrency)
          if (jobs.length < concurrency) {
            const got = await Promise.all(
              Array.from({ length: concurrency - jobs.length }, () =>
                worker.getNextJob(token, { block: false }),
              ),
            )
            for (const job of got) if (job) jobs.push(job)
          }
          full = jobs.length === concurrency
          if (jobs.length === 0 && reading === undefined) {
            // The rest are with the completion in flight, or fetched by it.
            if (completing === undefined) throw new Error(`the ceiling sent ${done} of ${total}`)
            await completing
            continue
          }
          // One read for the claim's rows: only those still to send come back.
          const next =
            jobs.length === 0
              ? undefined
              : {
                  jobs,
                  read: reader.query({
                    name: 'ceiling_read',
                    text: READ,
                    values: [jobs.map((job) => job.data.id)],
                  }),
                }
          if (reading !== undefined) {
            const { rows } = await reading.read
            for (const row of rows) {
              noop(row.address, JSON.parse(row.message).text)
              sent()
              done += 1
            }
            pending.push(...reading.jobs)
            completing ??= complete()
          }
          reading = next
        }
        const seconds = (performance.now() - started) / 1_000
        await window?.end()
        await completing
        await worker.close()
        await workerConnection.quit()
        // Same starting point every round, outside the timing, as the ledger side prunes first.
        const written = await pool.query(
          `delete from mortar_delivery where id = any($1::text[]) and status = 'sent'`,
          [ids],
        )
        if (written.rowCount !== total) {
          throw new Error(`the ceiling wrote ${written.rowCount} results of ${total}`)
        }
        await pool.query('vacuum mortar_delivery')
        return total / seconds
      } finally {
        reader.release()
        writer.release()
        await queue.obliterate({ force: true })
        await queue.close()
      }
    },
    close: () => pool.end(),
  }
}

function noop(...values) {
  if (values.some((value) => typeof value !== 'string')) throw new Error('a bad row')
}
