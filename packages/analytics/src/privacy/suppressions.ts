import { type Kysely, sql } from 'kysely'
import { idChunks } from '../storage/bulk-sql.js'
import {
  STATE_TABLE,
  SUPPRESSED_ANONYMOUS_TABLE,
  SUPPRESSED_TABLE,
} from '../storage/analytics-tables.js'
import { MAX_ID_LENGTH } from '../storage/batch-limits.js'
import { engineOf } from '../storage/sql-dialect.js'
import { fitsColumn } from '../storage/storable-text.js'
import { SUPPRESSION_LOCK_ROW, suppressedWhole } from './suppressed-writes.js'

const fits = (id: string) => fitsColumn(id, MAX_ID_LENGTH)

// How often the mark is read again while it says no identity was ever suppressed.
const REFRESH_MS = 1_000

/** Which of a batch's identities are suppressed. */
export interface Suppressed {
  readonly users: ReadonlySet<string>
  /** Anonymous ids whose events with no user are no longer recorded. */
  readonly anonymous: ReadonlySet<string>
}

/**
 * Which users, and anonymous ids once linked to them, `forgetUser` suppressed: looked up for
 * each batch by its own ids (by key, 1,000 a statement), so what a process holds is bounded by
 * its batch, however many identities were ever forgotten. Reading the whole table into every
 * process, as it once was, grew without bound with each forget. Until a first forget (the
 * suppression mark, read again at most once a second) nothing is looked up; another process's
 * first forget is then seen within a second or so, and the SQL sink deletes anything of theirs
 * a batch holds meanwhile before it commits.
 */
export class Suppressions {
  readonly #db: Kysely<unknown>
  #exist = false
  #checkedAt = Number.NEGATIVE_INFINITY

  constructor(db: Kysely<unknown>) {
    this.#db = db
  }

  /** Notes that this process suppressed an identity: batches are looked up from now on. */
  remember(): void {
    this.#exist = true
  }

  /**
   * Which of these users and anonymous ids are suppressed. `fresh` reads the mark now rather
   * than within the last second: a check made after a write must see a forget that committed
   * before it.
   */
  async among(
    userIds: readonly (string | undefined)[],
    anonymousIds: readonly (string | undefined)[],
    options: { readonly fresh?: boolean } = {},
  ): Promise<Suppressed> {
    const users = new Set<string>()
    const anonymous = new Set<string>()
    if (!(await this.#anyExist(options.fresh === true))) return { users, anonymous }
    // An id no column holds (too long, a U+0000, which PostgreSQL refuses even as a parameter)
    // is in no id column: a user's is looked up by its digest; an anonymous one was never
    // linked (its events all failed), so never suppressed.
    const whole = new Set<string>()
    for (const id of userIds) if (id !== undefined && !fits(id)) whole.add(id)
    for (const id of await suppressedWhole(this.#db, engineOf(this.#db), whole)) users.add(id)
    for (const [table, column, ids, found] of [
      [SUPPRESSED_TABLE, 'user_id', userIds, users],
      [SUPPRESSED_ANONYMOUS_TABLE, 'anonymous_id', anonymousIds, anonymous],
    ] as const) {
      const wanted = new Set<string>()
      for (const id of ids) if (id !== undefined && fits(id)) wanted.add(id)
      for (const chunk of idChunks([...wanted])) {
        const rows = await sql<{
          id: string
        }>`select ${sql.ref(column)} as id from ${sql.table(table)} where ${sql.ref(column)} in (${sql.join(chunk)})`.execute(
          this.#db,
        )
        for (const row of rows.rows) found.add(row.id)
      }
    }
    return { users, anonymous }
  }

  async #anyExist(fresh: boolean): Promise<boolean> {
    if (this.#exist) return true
    const now = performance.now()
    if (!fresh && now - this.#checkedAt < REFRESH_MS) return false
    this.#checkedAt = now
    const rows = await sql<{
      value: string
    }>`select value from ${sql.table(STATE_TABLE)} where name = ${SUPPRESSION_LOCK_ROW.name}`.execute(
      this.#db,
    )
    // Suppressions are never deleted: once marked, always looked up.
    this.#exist = rows.rows.some((row) => row.value !== SUPPRESSION_LOCK_ROW.value)
    return this.#exist
  }
}
