import { type Kysely, sql } from 'kysely'
import { SUPPRESSED_TABLE } from '../storage/analytics-tables.js'

/**
 * The users whose events are no longer recorded (`forgetUser` added them). Each batch asks the
 * table about the users in it, so every process of the app honours a suppression from its
 * next flush on; this process also remembers its own at once.
 */
export class Suppressions {
  readonly #db: Kysely<unknown>
  readonly #local = new Set<string>()

  constructor(db: Kysely<unknown>) {
    this.#db = db
  }

  /** Marks a user as suppressed in this process (the table row is written by forgetUser). */
  remember(userId: string): void {
    this.#local.add(userId)
  }

  /** Which of these users are suppressed. */
  async among(userIds: readonly (string | undefined)[]): Promise<ReadonlySet<string>> {
    const distinct = [...new Set(userIds.filter((id): id is string => id !== undefined))]
    const found = new Set<string>()
    for (let start = 0; start < distinct.length; start += 500) {
      const chunk = distinct.slice(start, start + 500)
      const rows = await sql<{
        user_id: string
      }>`select user_id from ${sql.table(SUPPRESSED_TABLE)} where user_id in (${sql.join(chunk)})`.execute(
        this.#db,
      )
      for (const row of rows.rows) found.add(row.user_id)
    }
    for (const id of distinct) if (this.#local.has(id)) found.add(id)
    return found
  }
}
