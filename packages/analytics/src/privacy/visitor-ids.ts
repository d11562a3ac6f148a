import { createHash, randomBytes } from 'node:crypto'
import { afterCommit, type Clock, type Database } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import { SALT_TABLE } from '../storage/analytics-tables.js'
import { engineOf } from '../storage/sql-dialect.js'

const DAY_MS = 86_400_000

/** The UTC day (`2026-03-01`) of an instant. */
export function utcDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10)
}

/**
 * Cookieless visitor ids, as Plausible makes them: a hash of a salt drawn for each UTC day, the
 * site, the IP address and the user agent. The same browser gets the same id all day and a new
 * one the next; salts are deleted once they are more than a day old (at most 48 hours after
 * they were drawn), after which no one can recompute an id or join two days. The salt of a day
 * is shared by every process through the salt table (the first to draw it wins).
 */
export class VisitorIds {
  readonly #database: Database
  readonly #db: Kysely<unknown>
  readonly #site: string
  readonly #clock: Clock
  /** Salts known committed, by day. */
  readonly #salts = new Map<string, string>()

  constructor(database: Database, site: string, clock: Clock) {
    this.#database = database
    this.#db = database.kysely
    this.#site = site
    this.#clock = clock
  }

  /**
   * The visitor id of an event at `ms` from `ip` and `userAgent`; `null` when the event's day is
   * older than yesterday (its salt is gone: ids from then can no longer be made).
   */
  async visitorId(ms: number, ip: string, userAgent: string): Promise<string | null> {
    const salt = await this.#salt(utcDay(ms))
    if (salt === null) return null
    return createHash('sha256')
      .update(`${salt}\0${this.#site}\0${ip}\0${userAgent}`)
      .digest('hex')
      .slice(0, 32)
  }

  async #salt(day: string): Promise<string | null> {
    const today = utcDay(this.#clock.nowMs())
    const yesterday = utcDay(this.#clock.nowMs() - DAY_MS)
    // Before the cache: a salt this process still holds outlives the day's salt everywhere else
    // (retention in another process deleted it), and an event dated then would be joined to
    // that day's visitors.
    if (day !== today && day !== yesterday) return null
    const cached = this.#salts.get(day)
    if (cached !== undefined) return cached
    await sql`insert into ${sql.table(SALT_TABLE)} (day, salt, created_at) values (${day}, ${randomBytes(32).toString('hex')}, ${this.#clock.nowMs()}) ${conflictIgnore(this.#db)}`.execute(
      this.#db,
    )
    // MariaDB: a locking read, which sees the salt another process committed after this
    // transaction's snapshot (a plain one did not, and the day's salt was taken to be none).
    const row = await sql<{
      salt: string
    }>`select salt from ${sql.table(SALT_TABLE)} where day = ${day}${engineOf(this.#db) === 'mysql' ? sql` for update` : sql``}`.execute(
      this.#db,
    )
    const salt = row.rows[0]?.salt
    if (salt === undefined) return null
    // trackNow() inside the caller's transaction draws the salt in it: kept only once that
    // commits. A rolled-back salt kept here made this process's ids differ all day from every
    // other process's, which drew the day's salt anew.
    if (this.#database.inTransaction)
      void afterCommit(() => this.#remember(day, salt), { database: this.#database })
    else this.#remember(day, salt)
    return salt
  }

  #remember(day: string, salt: string): void {
    const today = utcDay(this.#clock.nowMs())
    const yesterday = utcDay(this.#clock.nowMs() - DAY_MS)
    for (const key of this.#salts.keys())
      if (key !== today && key !== yesterday) this.#salts.delete(key)
    this.#salts.set(day, salt)
  }

  /** Deletes the salts of days before yesterday (UTC); returns how many. */
  async deleteExpiredSalts(): Promise<number> {
    const yesterday = utcDay(this.#clock.nowMs() - DAY_MS)
    for (const key of this.#salts.keys()) if (key < yesterday) this.#salts.delete(key)
    const result = await sql`delete from ${sql.table(SALT_TABLE)} where day < ${yesterday}`.execute(
      this.#db,
    )
    return Number(result.numAffectedRows ?? 0n)
  }
}

function conflictIgnore(db: Kysely<unknown>) {
  return engineOf(db) === 'mysql'
    ? sql`on duplicate key update day = day`
    : sql`on conflict (day) do nothing`
}
