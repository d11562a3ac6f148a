import { createLogger, DATABASE, Database, JOBS } from '@mortar/core'
import {
  createTestApp,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Channel } from '../channels/channel.js'
import { notifyModule } from '../module/notify-module.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { type CarriedDelivery, carriedRow } from './delivery-ledger.js'
import { SENDABLE_COLUMNS } from './delivery-table.js'

class Ping extends Notification {
  readonly type = 'ping'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'ping' }
  }
}

const sms: Channel<'sms'> = {
  name: 'sms',
  idempotent: true,
  route: (recipient) => recipient.id,
  send: async () => ({ status: 'accepted' }),
}

const postgres = testEngines().find((engine) => engine.engine === 'postgres')
if (postgres?.skip) console.info(`[skipped] the delivery ledger's upkeep: ${postgres.skip}`)

/**
 * A started app with the notify module on a PostgreSQL database of its own (each suite reads
 * the table's statistics counters from zero), for the suite that calls it.
 */
function startedOnPostgres(): { app: () => TestApp; url: () => string } {
  let database: PrivateDatabaseUrl
  let app: TestApp

  beforeAll(async () => {
    database = await privateDatabaseUrl(postgres as NonNullable<typeof postgres>)
    app = createTestApp({
      database: database.url,
      logger: createLogger({ level: 'silent' }),
      jobs: { workers: false },
      modules: [notifyModule({ channels: [sms] })],
    })
    await app.migrate()
    await app.start()
  })
  afterAll(async () => {
    await app.stop()
    await database.drop()
  })
  return { app: () => app, url: () => database.url }
}

describe.skipIf(postgres?.skip !== undefined)('the delivery ledger upkeep on PostgreSQL', () => {
  const started = startedOnPostgres()

  it('vacuums the delivery table, without analyzing it, once 5,000 rows were changed by results and pruning', async () => {
    // Each delivery's row is updated with its result and later deleted by prune(): on a server
    // without autovacuum the dead versions would stay for good, in the table and its indexes.
    const app = started.app()
    const root = app.resolve(DATABASE).root
    const upkeeps = async () => {
      const { rows } = await sql<{ vacuums: string; analyzes: string }>`select
          vacuum_count as vacuums, analyze_count as analyzes
        from pg_stat_user_tables where relname = 'mortar_delivery' and schemaname = current_schema()`.execute(
        root,
      )
      return { vacuums: Number(rows[0]?.vacuums ?? 0), analyzes: Number(rows[0]?.analyzes ?? 0) }
    }
    const vacuums = async () => (await upkeeps()).vacuums
    const before = await upkeeps()
    const recipients = Array.from({ length: 100 }, (_, i) => ({ id: `user-${i}` }))
    for (let i = 0; i < 2_500; i += recipients.length) {
      await app.resolve(NOTIFIER).notify(recipients, new Ping())
    }
    await app.resolve(JOBS).drain()
    const deliveries = app.resolve(DELIVERIES)
    expect(await deliveries.prune(new Date(app.clock.nowMs() + 1))).toBe(2_500)
    await expect.poll(vacuums, { timeout: 20_000, interval: 100 }).toBeGreaterThan(before.vacuums)
    // Its statements find rows by id: an analyze of each vacuum would cost and change no plan.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect((await upkeeps()).analyzes).toBe(before.analyzes)
  })
})

describe.skipIf(postgres?.skip !== undefined)('delivery results on PostgreSQL', () => {
  const started = startedOnPostgres()

  it('records results as in-page (HOT) updates, with no new index entries', async () => {
    const app = started.app()
    const recipients = Array.from({ length: 100 }, (_, i) => ({ id: `user-${i}` }))
    for (let i = 0; i < 1_000; i += recipients.length) {
      await app.resolve(NOTIFIER).notify(recipients, new Ping())
    }
    await app.resolve(JOBS).drain()
    // A connection publishes its table counters as it closes (or once idle for a while).
    await app.stop()
    const observer = new Database(started.url())
    try {
      const updates = async () => {
        const { rows } = await sql<{ updated: string; hot: string }>`select n_tup_upd as updated,
            n_tup_hot_upd as hot from pg_stat_user_tables
          where relname = 'mortar_delivery' and schemaname = current_schema()`.execute(
          observer.root,
        )
        return { updated: Number(rows[0]?.updated ?? 0), hot: Number(rows[0]?.hot ?? 0) }
      }
      await expect.poll(async () => (await updates()).updated).toBe(1_000)
      expect((await updates()).hot).toBeGreaterThanOrEqual(950)
    } finally {
      await observer.destroy()
    }
  })
})

describe('carriedRow', () => {
  it('names the values a claim carried as the columns its read selects, in their order', () => {
    // The read writes SENDABLE_COLUMNS but the id in order: each value here is its column's name.
    const names = [...SENDABLE_COLUMNS.slice(1), null] as unknown as CarriedDelivery['v']
    expect(carriedRow('id', names)).toEqual(Object.fromEntries(SENDABLE_COLUMNS.map((c) => [c, c])))
    expect(Object.keys(carriedRow('id', names))).toEqual([...SENDABLE_COLUMNS])
  })
})
