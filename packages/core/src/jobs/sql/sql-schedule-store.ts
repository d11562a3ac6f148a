import { type Kysely, sql } from 'kysely'
import type { Database } from '../../persistence/database/database.js'
import type { DueSchedules, ScheduleRow, ScheduleStore } from '../schedules/schedule-store.js'
import type { QueueClock } from './queue-clock.js'
import { queueDb } from './queue-db.js'

/**
 * Schedules' next ticks in `mortar_schedule`, one row per schedule. A tick is claimed by one
 * `UPDATE … WHERE next_at = <the value seen>` in a transaction that also enqueues the tick's
 * job: concurrent processes wait on the row lock, re-read it, and update nothing.
 */
export class SqlScheduleStore implements ScheduleStore {
  readonly #database: Database
  readonly #clock: QueueClock

  constructor(database: Database, clock: QueueClock) {
    this.#database = database
    this.#clock = clock
  }

  get #db(): Kysely<unknown> {
    return queueDb(this.#database)
  }

  async register(rows: readonly ScheduleRow[]): Promise<void> {
    for (const row of rows) {
      const values = sql`(${row.name}, ${row.spec}, ${row.nextAtMs})`
      if (this.#database.engine === 'mysql') {
        await sql`insert ignore into mortar_schedule (name, spec, next_at) values ${values}`.execute(
          this.#db,
        )
      } else {
        await sql`insert into mortar_schedule (name, spec, next_at) values ${values} on conflict do nothing`.execute(
          this.#db,
        )
      }
      // A changed timing starts over from the new one's next tick.
      await sql`update mortar_schedule set spec = ${row.spec}, next_at = ${row.nextAtMs}
        where name = ${row.name} and spec <> ${row.spec}`.execute(this.#db)
    }
  }

  /** Due by the queue's clock (the server's), which the scheduler then counts from. */
  async due(names: readonly string[], nowMs: number): Promise<DueSchedules> {
    if (names.length === 0) return { rows: [], nowMs }
    const now = this.#clock.now()
    const { rows } = await sql<{
      name: string
      spec: string
      next_at: string | number
      mortar_now: string | number
    }>`
      select name, spec, next_at, ${now} as mortar_now from mortar_schedule
      where next_at <= ${now} and name in (${sql.join(names)})`.execute(this.#db)
    return {
      rows: rows.map((row) => ({ name: row.name, spec: row.spec, nextAtMs: Number(row.next_at) })),
      nowMs: rows.length === 0 ? nowMs : Number(rows[0]?.mortar_now),
    }
  }

  async claim(
    row: ScheduleRow,
    nextAtMs: number,
    enqueue: () => Promise<unknown>,
  ): Promise<boolean> {
    return this.#database.transaction(async () => {
      const result =
        await sql`update mortar_schedule set next_at = ${nextAtMs}, last_at = ${row.nextAtMs}
        where name = ${row.name} and next_at = ${row.nextAtMs}`.execute(this.#database.kysely)
      if (Number(result.numAffectedRows ?? 0) !== 1) return false
      await enqueue()
      return true
    })
  }
}
