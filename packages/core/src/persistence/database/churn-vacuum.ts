import { sql } from 'kysely'
import type { Logger } from '../../logger/logger.js'
import type { Database } from './database.js'
import { describeOption } from '../../validation/number-in.js'

// Rows a table may outgrow its statistics by before it is analyzed again: below a thousand or
// so, a sort of the whole table costs about what a walk of its index does.
const STALE_MARGIN = 1_000

/** Options of {@link ChurnVacuum}. */
export interface ChurnVacuumOptions {
  /** The app's database; the table is vacuumed through its pool. */
  readonly database: Database
  /** The table, in the database's current schema. */
  readonly table: string
  /** Rows updated or deleted between two vacuums, and backlog rows between two checks. */
  readonly every: number
  /**
   * Whether each vacuum also analyzes the table (true by default). False for a table whose
   * statements find their rows by key and plan the same without statistics: an analyze reads
   * up to 30,000 of its rows, for every `every` changed.
   */
  readonly analyze?: boolean
  /**
   * Receives a failed vacuum (it is tried again after as many rows); the database's
   * {@link Database.logger} by default.
   */
  readonly logger?: Logger
}

/**
 * Keeps a table whose rows are updated or deleted at a high rate (a queue, a ledger) from
 * growing without bound on a PostgreSQL server that runs no autovacuum: each update and delete
 * leaves a dead row version that only a vacuum reclaims, and until then every scan and index
 * walks it. Such a server runs no autoanalyze either: without statistics the planner takes a
 * table of thousands of rows for a few, and sorts them all to take the first (the SQL queue's
 * claim did, on every claim). The owner counts the rows it changed; every `every` of them the
 * table is vacuumed and analyzed (unless `analyze: false`) in the background (skipped while another session vacuums it).
 * Statistics are also wanted before the first vacuum, and when a table analyzed while nearly
 * empty meets a backlog: the owner counts the rows it reads from a backlog too (see
 * {@link ChurnVacuum.countBacklog}). SQLite and MariaDB reuse the space by themselves: there it
 * does nothing.
 *
 * @example
 * ```ts
 * import { ChurnVacuum, Database } from '@mortar/core'
 * import { sql } from 'kysely'
 *
 * const database = new Database('postgres://app@localhost/app')
 * const upkeep = new ChurnVacuum({ database, table: 'order_event', every: 5_000 })
 *
 * const pruned = await sql`delete from order_event where created_at < now() - interval '30 days'`.execute(
 *   database.root,
 * )
 * upkeep.count(Number(pruned.numAffectedRows ?? 0))
 * ```
 */
export class ChurnVacuum {
  readonly #options: ChurnVacuumOptions
  #changed = 0
  // Backlog rows since the last check of the statistics: the first check comes at once.
  #backlog: number
  // A vacuum or an analyze in flight: at most one at a time.
  #busy = false

  constructor(options: ChurnVacuumOptions) {
    if (!(Number.isInteger(options.every) && options.every > 0)) {
      throw new TypeError(
        `ChurnVacuum: every must be a positive whole number; got ${describeOption(options.every)}.`,
      )
    }
    this.#options = options
    this.#backlog = options.every
  }

  /** Counts `rows` updated or deleted; starts a vacuum when `every` have been counted. */
  count(rows: number): void {
    if (this.#options.database.engine !== 'postgres') return
    this.#changed += rows
    if (this.#changed < this.#options.every || this.#busy) return
    this.#changed = 0
    void this.#vacuum()
  }

  /**
   * Counts `rows` read from a backlog (a queue's claim that took a whole batch). The first time,
   * and every `every` rows after, checks the table's statistics in the background, and analyzes
   * it (`analyze (skip_locked)`) when it has never been analyzed or now holds over a thousand
   * rows more than twice those last seen: a planner that takes a backlog for a few rows sorts
   * all of it to take the first. In the steady state that is one small query per `every` rows.
   */
  countBacklog(rows: number): void {
    if (this.#options.database.engine !== 'postgres') return
    this.#backlog += rows
    if (this.#backlog < this.#options.every || this.#busy) return
    this.#backlog = 0
    void this.#upkeep('Analyzing', async (table, root) => {
      const { rows: stale } = await sql`select 1 from pg_stat_user_tables s
        join pg_class c on c.oid = s.relid
        where s.relid = quote_ident(${table})::regclass
          and (coalesce(s.last_analyze, s.last_autoanalyze) is null
            or s.n_live_tup > 2 * greatest(c.reltuples, 0) + ${STALE_MARGIN})`.execute(root)
      if (stale.length > 0) await sql`analyze (skip_locked) ${sql.table(table)}`.execute(root)
    })
  }

  /**
   * Vacuums the table now, and resolves once done, when its dead rows pass autovacuum's default
   * threshold: more than 50 plus 20% of its live rows, as `pg_stat_user_tables` counts them.
   * For a table a scheduled task churns (a rollup, a prune), called after each run: the table
   * stays near its live size whatever the pace, without counting what each statement changed.
   * The counts reach the view when the session that changed the rows goes idle, within about a
   * second (at once when its transaction called `pg_stat_force_next_flush()`, PostgreSQL 15+).
   * A failure is logged, never thrown; elsewhere than on PostgreSQL it does nothing.
   */
  async vacuumIfDead(): Promise<void> {
    if (this.#options.database.engine !== 'postgres' || this.#busy) return
    await this.#upkeep('Vacuuming', async (table, root) => {
      const { rows } = await sql`select 1 from pg_stat_user_tables
        where relid = quote_ident(${table})::regclass and n_dead_tup > 50 + 0.2 * n_live_tup`.execute(
        root,
      )
      if (rows.length > 0) await this.#vacuumStatement(table).execute(root)
    })
  }

  #vacuum(): Promise<void> {
    return this.#upkeep('Vacuuming', (table, root) => this.#vacuumStatement(table).execute(root))
  }

  #vacuumStatement(table: string) {
    const options = this.#options.analyze === false ? sql`skip_locked` : sql`skip_locked, analyze`
    return sql`vacuum (${options}) ${sql.table(table)}`
  }

  /** Runs `work` on the pool, never in a caller's transaction, and logs its failure. */
  async #upkeep(
    what: string,
    work: (table: string, root: Database['root']) => Promise<unknown>,
  ): Promise<void> {
    const { database, table } = this.#options
    this.#busy = true
    try {
      await work(table, database.root)
    } catch (error) {
      const logger = this.#options.logger ?? database.logger
      logger.warn({ err: error, table }, `${what} ${table} failed; it is tried again later`)
    } finally {
      this.#busy = false
    }
  }
}
