// The request comparison's ceiling on PostgreSQL: the same transaction on bare node-postgres, no
// Kysely and no Mortar, with and without the rows notify() writes for one recipient on two
// channels (two delivery rows and two delivery jobs, one statement prepared once per
// connection and sent in one write with the COMMIT, as core sends it). What no client work of
// notify() can beat on this row model. One more side writes one job for both deliveries, to show
// what a job per notify() call instead of per delivery would save, and one writes the delivery
// rows alone: the ceiling of a row model where a delivery row is its own queue entry.
import { randomUUID } from 'node:crypto'
import { uuidV7 } from '@mortar/core'
import { createRequire } from 'node:module'
import { DELIVERY_COLUMNS, placeholders } from './notify-raw-rows.mjs'

const require = createRequire(import.meta.url)

function statement(jobs) {
  if (jobs === 0) {
    return `insert into mortar_delivery (${DELIVERY_COLUMNS}) values ${placeholders(2, 15, 0)}`
  }
  return `with deliveries as (insert into mortar_delivery (${DELIVERY_COLUMNS}) values ${placeholders(2, 15, 0)}) insert into mortar_job (name, payload, run_at, max_attempts, created_at) values ${placeholders(jobs, 5, 30)}`
}

function parameters(orderId, recipientId, jobs) {
  const now = Date.now()
  const notificationId = randomUUID()
  // Time-ordered, as notify() makes them (core's uuidV7).
  const ids = [uuidV7(now), uuidV7(now)]
  const values = []
  for (const [i, channel] of ['chat', 'sms'].entries()) {
    const message = JSON.stringify({ text: `Order ${orderId} placed` })
    values.push(ids[i], notificationId, 'bench.order_placed', 'default', recipientId, channel)
    values.push(recipientId, message, 'queued', null, now, now, now, 0, 0)
  }
  const payloads = jobs === 0 ? [] : jobs === 1 ? [{ ids }] : ids.map((id) => ({ id }))
  for (const payload of payloads) {
    values.push('mortar.notify.deliver', JSON.stringify(payload), now, 8, now)
  }
  return values
}

/**
 * `clients` connections to the migrated database at `url` (the notify module's tables, and
 * `bench_order`); resolves to the sides, each `(client, call) => Promise`, and `close()`.
 */
export async function rawRequestSides(url, clients) {
  const pg = require('pg')
  const pool = new pg.Pool({ connectionString: url, max: clients, pipeline: true })
  const connections = await Promise.all(Array.from({ length: clients }, () => pool.connect()))
  let next = 0
  const side = (jobs) => async (client) => {
    const connection = connections[client]
    const id = `raw-${next++}`
    await connection.query('begin')
    await connection.query({
      name: 'bench_order',
      text: 'insert into bench_order (id, total) values ($1, $2)',
      values: [id, 42],
    })
    if (jobs === undefined) {
      await connection.query('commit')
      return
    }
    const stream = connection.connection.stream
    stream.cork()
    const write = connection.query({
      name: `bench_notify_${jobs}`,
      text: statement(jobs),
      values: parameters(id, `user-${next % 50}`, jobs),
    })
    const commit = connection.query('commit')
    process.nextTick(() => stream.uncork())
    await Promise.all([write, commit])
  }
  return {
    sides: {
      'raw without': side(undefined),
      'raw with the delivery rows alone': side(0),
      'raw with the rows': side(2),
      'raw with one job for both': side(1),
    },
    async close() {
      for (const connection of connections) connection.release()
      await pool.end()
    },
  }
}
