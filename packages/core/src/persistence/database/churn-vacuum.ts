import { sql } from 'kysely'
import type { Logger } from '../../logger/logger.js'
import type { Database } from './database.js'

/** Options of {@link ChurnVacuum}. */
export interface ChurnVacuumOptions {
  /** The app's database; the table is vacuumed through its pool. */
  readonly database: Database
  /** The table, in the database's current schema. */
  readonly table: string
  /** Rows updated or deleted between two vacuums. */
  readonly every: number
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
 * table is vacuumed and analyzed in the background (skipped while another session vacuums it).
 * SQLite and MariaDB reuse the space by themselves: there it does nothing.
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
  #vacuuming = false

  constructor(options: ChurnVacuumOptions) {
    if (!(Number.isInteger(options.every) && options.every > 0)) {
      throw new TypeError(
        `ChurnVacuum: every must be a positive whole number; got ${options.every}.`,
      )
    }
    this.#options = options
  }

  /** Counts `rows` updated or deleted; starts a vacuum when `every` have been counted. */
  count(rows: number): void {
    if (this.#options.database.engine !== 'postgres') return
    this.#changed += rows
    if (this.#changed < this.#options.every || this.#vacuuming) return
    this.#changed = 0
    void this.#vacuum()
  }

  async #vacuum(): Promise<void> {
    const { database, table } = this.#options
    this.#vacuuming = true
    try {
      await sql`vacuum (skip_locked, analyze) ${sql.table(table)}`.execute(database.root)
    } catch (error) {
      const logger = this.#options.logger ?? database.logger
      logger.warn({ err: error, table }, `Vacuuming ${table} failed; it is tried again later`)
    } finally {
      this.#vacuuming = false
    }
  }
}
