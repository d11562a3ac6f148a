import type { Clock } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import {
  type DbInt,
  SUPPRESSED_ANONYMOUS_TABLE,
  SUPPRESSED_TABLE,
} from '../storage/analytics-tables.js'

const REFRESH_MS = 1_000
// Rows are read again this far back: another process's clock may lag ours.
const SKEW_MS = 300_000

/** Which of a batch's identities are suppressed. */
export interface Suppressed {
  readonly users: ReadonlySet<string>
  /** Anonymous ids whose events with no user are no longer recorded. */
  readonly anonymous: ReadonlySet<string>
}

/**
 * The users, and the anonymous ids once linked to them, whose events are no longer recorded
 * (`forgetUser` added them), held in memory and
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
  readonly #anonymous = new Set<string>()
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

  /** Marks anonymous ids as suppressed in this process, once their table rows are written. */
  rememberAnonymous(anonymousIds: readonly string[]): void {
    for (const id of anonymousIds) this.#anonymous.add(id)
  }

  /** Which of these users and anonymous ids are suppressed. */
  async among(
    userIds: readonly (string | undefined)[],
    anonymousIds: readonly (string | undefined)[],
  ): Promise<Suppressed> {
    const now = performance.now()
    if (now - this.#refreshedAt >= REFRESH_MS) {
      const since = this.#readUntil
      const newer = since === undefined ? sql`` : sql`where suppressed_at >= ${since - SKEW_MS}`
      const rows = await sql<{
        user_id: string | null
        anonymous_id: string | null
        suppressed_at: DbInt
      }>`select user_id, null as anonymous_id, suppressed_at from ${sql.table(SUPPRESSED_TABLE)} ${newer} union all select null, anonymous_id, suppressed_at from ${sql.table(SUPPRESSED_ANONYMOUS_TABLE)} ${newer}`.execute(
        this.#db,
      )
      let latest = since ?? this.#clock.nowMs()
      for (const row of rows.rows) {
        if (row.user_id !== null) this.#users.add(row.user_id)
        if (row.anonymous_id !== null) this.#anonymous.add(row.anonymous_id)
        latest = Math.max(latest, Number(row.suppressed_at))
      }
      this.#readUntil = latest
      this.#refreshedAt = now
    }
    return { users: among(this.#users, userIds), anonymous: among(this.#anonymous, anonymousIds) }
  }
}

function among(
  suppressed: ReadonlySet<string>,
  ids: readonly (string | undefined)[],
): ReadonlySet<string> {
  const found = new Set<string>()
  if (suppressed.size === 0) return found
  for (const id of ids) if (id !== undefined && suppressed.has(id)) found.add(id)
  return found
}
