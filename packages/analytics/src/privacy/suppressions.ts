import type { Clock } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import { type DbInt, SUPPRESSED_TABLE } from '../storage/analytics-tables.js'

const REFRESH_MS = 1_000
// Rows are read again this far back: another process's clock may lag ours.
const SKEW_MS = 300_000

/**
 * The users whose events are no longer recorded (`forgetUser` added them), held in memory and
 * refreshed from the table at most once a second with the rows suppressed since the last read:
 * one small query, usually empty, instead of a lookup per batch. So every process of the app
 * skips a forgotten user's events within a second or so; the SQL sink deletes anything of theirs
 * a batch holds meanwhile before it commits, and this process remembers its own once their
 * deletion commits.
 */
export class Suppressions {
  readonly #db: Kysely<unknown>
  readonly #clock: Clock
  readonly #users = new Set<string>()
  #readUntil: number | undefined
  #refreshedAt = Number.NEGATIVE_INFINITY

  constructor(db: Kysely<unknown>, clock: Clock) {
    this.#db = db
    this.#clock = clock
  }

  /** Marks a user as suppressed in this process, once forgetUser's transaction wrote the table row. */
  remember(userId: string): void {
    this.#users.add(userId)
  }

  /** Which of these users are suppressed. */
  async among(userIds: readonly (string | undefined)[]): Promise<ReadonlySet<string>> {
    const now = performance.now()
    if (now - this.#refreshedAt >= REFRESH_MS) {
      const since = this.#readUntil
      const rows = await sql<{
        user_id: string
        suppressed_at: DbInt
      }>`select user_id, suppressed_at from ${sql.table(SUPPRESSED_TABLE)} ${
        since === undefined ? sql`` : sql`where suppressed_at >= ${since - SKEW_MS}`
      }`.execute(this.#db)
      let latest = since ?? this.#clock.nowMs()
      for (const row of rows.rows) {
        this.#users.add(row.user_id)
        latest = Math.max(latest, Number(row.suppressed_at))
      }
      this.#readUntil = latest
      this.#refreshedAt = now
    }
    const found = new Set<string>()
    if (this.#users.size === 0) return found
    for (const id of userIds) if (id !== undefined && this.#users.has(id)) found.add(id)
    return found
  }
}
