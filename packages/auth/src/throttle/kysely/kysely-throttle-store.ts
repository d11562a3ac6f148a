import type { Migration, ModuleMigrations } from '@mortar/core'
import { type Kysely, MysqlAdapter, PostgresAdapter, sql } from 'kysely'
import type { ThrottleExpiry, ThrottleLock, ThrottleStore } from '../throttle-store.js'

const TABLE = 'mortar_login_throttle'

interface ThrottleRow {
  key: string
  count: number
  // Milliseconds since the epoch: one portable type on every engine, exact to the ms.
  until_ms: number | string | bigint | null
  lockouts: number | null
  expires_at: number | string | bigint
}

interface ThrottleTables {
  mortar_login_throttle: ThrottleRow
}

/** Options of {@link KyselyThrottleStore}. */
export interface KyselyThrottleStoreOptions {
  /**
   * The Kysely to run on, with the `mortar_login_throttle` table created by
   * {@link loginThrottleMigrations}. Prefer one outside the request's transaction, so a failed
   * login is still counted when the request rolls back (`loginThrottleModule` does this).
   */
  readonly db: Kysely<unknown>
}

/**
 * A {@link ThrottleStore} in a SQL table (`mortar_login_throttle`) on SQLite, PostgreSQL or
 * MySQL/MariaDB. An increment is one atomic upsert (`RETURNING` on PostgreSQL and SQLite, an
 * upsert and a read in one transaction on MySQL). Expired rows are deleted every few hundred
 * increments, or by {@link KyselyThrottleStore.pruneExpired} from a job.
 *
 * @example
 * ```ts
 * import { KyselyThrottleStore, LoginThrottle } from '@mortar/auth'
 * import { DATABASE, SystemClock } from '@mortar/core'
 *
 * const store = new KyselyThrottleStore({ db: app.resolve(DATABASE).root })
 * const throttle = new LoginThrottle({ store, clock: new SystemClock() })
 * ```
 */
export class KyselyThrottleStore implements ThrottleStore {
  readonly #db: Kysely<ThrottleTables>
  #increments = 0

  constructor(options: KyselyThrottleStoreOptions) {
    this.#db = options.db as Kysely<ThrottleTables>
  }

  async increment(key: string, { nowMs, ttlMs }: ThrottleExpiry): Promise<number> {
    if (++this.#increments % 256 === 0) await this.pruneExpired(nowMs)
    const expiresAt = nowMs + ttlMs
    if (isMysql(this.#db)) {
      const run = async (db: Kysely<ThrottleTables>) => {
        await db
          .insertInto(TABLE)
          .values({ key, count: 1, until_ms: null, lockouts: null, expires_at: expiresAt })
          .onDuplicateKeyUpdate({ count: sql`count + 1`, expires_at: expiresAt })
          .execute()
        // The upsert holds the row lock until commit, so this reads exactly our increment.
        const row = await db
          .selectFrom(TABLE)
          .select('count')
          .where('key', '=', key)
          .executeTakeFirstOrThrow()
        return Number(row.count)
      }
      return this.#db.isTransaction ? run(this.#db) : this.#db.transaction().execute(run)
    }
    const row = await this.#db
      .insertInto(TABLE)
      .values({ key, count: 1, until_ms: null, lockouts: null, expires_at: expiresAt })
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet({
          count: sql`${sql.ref(`${TABLE}.count`)} + 1`,
          expires_at: expiresAt,
        }),
      )
      .returning('count')
      .executeTakeFirstOrThrow()
    return Number(row.count)
  }

  async counts(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return []
    const rows = await this.#db
      .selectFrom(TABLE)
      .select(['key', 'count'])
      .where('key', 'in', [...keys])
      .execute()
    const byKey = new Map(rows.map((row) => [row.key, Number(row.count)]))
    return keys.map((key) => byKey.get(key) ?? 0)
  }

  async getLock(key: string): Promise<ThrottleLock | undefined> {
    const row = await this.#db
      .selectFrom(TABLE)
      .select(['until_ms', 'lockouts'])
      .where('key', '=', key)
      .executeTakeFirst()
    if (row === undefined || row.until_ms === null || row.lockouts === null) return undefined
    return { untilMs: Number(row.until_ms), lockouts: Number(row.lockouts) }
  }

  async setLock(key: string, lock: ThrottleLock, { nowMs, ttlMs }: ThrottleExpiry): Promise<void> {
    const values = {
      until_ms: lock.untilMs,
      lockouts: lock.lockouts,
      expires_at: nowMs + ttlMs,
    }
    const insert = this.#db.insertInto(TABLE).values({ key, count: 0, ...values })
    if (isMysql(this.#db)) await insert.onDuplicateKeyUpdate(values).execute()
    else await insert.onConflict((conflict) => conflict.column('key').doUpdateSet(values)).execute()
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.#db
      .deleteFrom(TABLE)
      .where('key', 'in', [...keys])
      .execute()
  }

  /** Deletes the rows that expired by `nowMs` and returns how many. */
  async pruneExpired(nowMs: number): Promise<number> {
    const result = await this.#db
      .deleteFrom(TABLE)
      .where('expires_at', '<=', nowMs)
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}

function isMysql(db: { getExecutor(): { readonly adapter: object } }): boolean {
  const adapter = db.getExecutor().adapter
  if (adapter instanceof MysqlAdapter) return true
  if (adapter instanceof PostgresAdapter) return false
  // A second copy of kysely (ESM and CJS both loaded) defeats instanceof: fall back on names.
  for (
    let proto = Object.getPrototypeOf(adapter);
    proto !== null;
    proto = Object.getPrototypeOf(proto)
  ) {
    if (proto.constructor?.name === 'MysqlAdapter') return true
  }
  return false
}

const createThrottleTable: Migration = {
  async up(db) {
    // Keys are base64url: case matters, and MySQL compares text case-insensitively by default.
    const keyType = isMysql(db)
      ? sql.raw('varchar(100) character set ascii collate ascii_bin')
      : sql.raw('varchar(100)')
    await db.schema
      .createTable(TABLE)
      .addColumn('key', keyType, (column) => column.primaryKey())
      .addColumn('count', 'integer', (column) => column.notNull().defaultTo(0))
      .addColumn('until_ms', 'bigint')
      .addColumn('lockouts', 'integer')
      .addColumn('expires_at', 'bigint', (column) => column.notNull())
      .execute()
    await db.schema
      .createIndex('mortar_login_throttle_expires_at')
      .on(TABLE)
      .column('expires_at')
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(TABLE).execute()
  },
}

/**
 * The migrations of the `mortar_login_throttle` table; `loginThrottleModule({ store: 'database' })`
 * runs them with the app's. Give them to your migrator when you build a {@link KyselyThrottleStore}
 * yourself.
 *
 * @example
 * ```ts
 * import { loginThrottleMigrations } from '@mortar/auth'
 * import { defineModule } from '@mortar/core'
 *
 * export const securityModule = defineModule({
 *   name: 'security',
 *   migrations: loginThrottleMigrations,
 *   register() {},
 * })
 * ```
 */
export const loginThrottleMigrations: ModuleMigrations = Object.freeze({
  '0001_create_mortar_login_throttle': createThrottleTable,
})
