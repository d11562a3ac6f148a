import { type RawBuilder, sql } from 'kysely'
import type { Clock } from '../../clock/clock.js'
import type { Database } from '../../persistence/database/database.js'

/**
 * The one clock the SQL queue judges time by: the database server's, read inside each statement,
 * so that no process's clock (skewed, stepped) decides who holds a job or when one is due. A
 * test app's `FakeClock` stands for every clock at once, the server's included: the queue then
 * follows it (see {@link QueueClock.simulate}).
 */
export class QueueClock {
  readonly #database: Database
  #simulated: Clock | undefined

  constructor(database: Database) {
    this.#database = database
  }

  /** Whether the queue follows a simulated clock (a compiled statement depends on it). */
  get simulated(): boolean {
    return this.#simulated !== undefined
  }

  /** Follows a test's simulated clock instead of the server's; never a machine's own clock. */
  simulate(clock: Clock): void {
    this.#simulated = clock
  }

  /** The simulated clock's now, when the queue follows one. */
  simulatedMs(): number | undefined {
    return this.#simulated?.nowMs()
  }

  /** Now, in ms since the epoch, as the statement's expression. */
  now(): RawBuilder<number> {
    return this.#simulated === undefined ? this.server() : sql`${this.#simulated.nowMs()}`
  }

  /** `ms` from now (a lease's end, a retry's time), as the statement's expression. */
  after(ms: number): RawBuilder<number> {
    if (this.#simulated !== undefined) return sql`${this.#simulated.nowMs() + ms}`
    return this.#database.engine === 'postgres'
      ? sql`(${this.server()} + ${ms}::bigint)`
      : sql`(${this.server()} + ${ms})`
  }

  /**
   * The server's own now in ms. Stable within a statement (PostgreSQL's statement_timestamp(),
   * MariaDB's now(3), SQLite's 'now' within one step), so every row of a claim sees one instant
   * and PostgreSQL can still walk the due index with it. MariaDB's sessions run at UTC (see
   * create-dialect), so unix_timestamp() meets no daylight-saving gap.
   */
  server(): RawBuilder<number> {
    switch (this.#database.engine) {
      case 'postgres':
        return sql`(extract(epoch from statement_timestamp()) * 1000)::bigint`
      case 'mysql':
        return sql`cast(unix_timestamp(now(3)) * 1000 as signed)`
      default:
        return sql`cast(unixepoch('subsec') * 1000 as integer)`
    }
  }
}
