import { type DatabaseEngine, engineOf, type Migration, type ModuleMigrations } from '@mortar/core'
import { type Expression, type Kysely, type RawBuilder, sql } from 'kysely'
import type { ThrottleReservation, ThrottleRule, ThrottleStore } from '../throttle-store.js'

const TABLE = 'mortar_login_throttle'

// Milliseconds since the epoch are bigint: one portable type on every engine, exact to the ms.
type Millis = number | string | bigint

interface ThrottleRow {
  key: string
  /** Attempts in the window; 0 right after a lockout started, −1 once one was refused by it. */
  count: number
  window_ends_ms: Millis
  until_ms: Millis
  lockouts: number
  expires_at: Millis
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
 * MySQL/MariaDB. A reservation is one conditional upsert that counts the attempt, or starts the
 * lockout, and answers in the same statement: `INSERT … ON CONFLICT DO UPDATE … RETURNING` on
 * PostgreSQL and SQLite; on MySQL, which has no `RETURNING`, `INSERT … ON DUPLICATE KEY UPDATE`
 * whose row lock is held, in a transaction, while the row is read back. Expired rows are deleted
 * every few hundred reservations, or by {@link KyselyThrottleStore.pruneExpired} from a job.
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
  #reservations = 0

  constructor(options: KyselyThrottleStoreOptions) {
    this.#db = options.db as Kysely<ThrottleTables>
  }

  async reserve(key: string, rule: ThrottleRule, nowMs: number): Promise<ThrottleReservation> {
    if (++this.#reservations % 256 === 0) await this.pruneExpired(nowMs)
    const now = Math.floor(nowMs)
    const windowEndsMs = now + rule.windowMs
    // A key seen for the first time: its first attempt is allowed, since every limit is ≥ 1.
    const first = {
      key,
      count: 1,
      window_ends_ms: windowEndsMs,
      until_ms: 0,
      lockouts: 0,
      expires_at: windowEndsMs,
    }
    const columns = ['count', 'window_ends_ms', 'until_ms', 'lockouts'] as const
    if (engineOf(this.#db) === 'mysql') {
      const run = async (db: Kysely<ThrottleTables>) => {
        await db
          .insertInto(TABLE)
          .values(first)
          .onDuplicateKeyUpdate(mysqlTransition(rule, now))
          .execute()
        // The upsert holds the row lock until commit, so this reads exactly our transition.
        return db.selectFrom(TABLE).select(columns).where('key', '=', key).executeTakeFirstOrThrow()
      }
      const row = this.#db.isTransaction
        ? await run(this.#db)
        : await this.#db.transaction().execute(run)
      return reservation(row, now)
    }
    const row = await this.#db
      .insertInto(TABLE)
      .values(first)
      .onConflict((conflict) =>
        conflict.column('key').doUpdateSet(transition(engineOf(this.#db), rule, now)),
      )
      .returning(columns)
      .executeTakeFirstOrThrow()
    return reservation(row, now)
  }

  async release(key: string, windowEndsMs: number): Promise<void> {
    await this.#db
      .updateTable(TABLE)
      .set({ count: sql`${sql.ref('count')} - 1` })
      .where('key', '=', key)
      .where('window_ends_ms', '=', windowEndsMs)
      .where('count', '>', 0)
      .execute()
  }

  async reset(key: string): Promise<void> {
    await this.#db.deleteFrom(TABLE).where('key', '=', key).execute()
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

function reservation(
  row: Pick<ThrottleRow, 'count' | 'window_ends_ms' | 'until_ms' | 'lockouts'>,
  nowMs: number,
): ThrottleReservation {
  const untilMs = Number(row.until_ms)
  if (untilMs <= nowMs) return { allowed: true, windowEndsMs: Number(row.window_ends_ms) }
  return {
    allowed: false,
    retryAfterMs: untilMs - nowMs,
    // Only the transition that started the lockout leaves the count at 0; refusals set −1.
    lockedNow: Number(row.count) === 0,
    lockouts: Number(row.lockouts),
  }
}

// The transition of `ThrottleStore`, as `SET` expressions of an upsert that all read the row as
// it was (PostgreSQL and SQLite evaluate every assignment against the old row). Numbers come
// from the clock and the validated rule, so they are inlined as integers.
function transition(dialect: DatabaseEngine, rule: ThrottleRule, now: number) {
  const old = (column: keyof ThrottleRow) => sql.ref(`${TABLE}.${column}`)
  const least = dialect === 'sqlite' ? sql.raw('min') : sql.raw('least')
  const greatest = dialect === 'sqlite' ? sql.raw('max') : sql.raw('greatest')
  const locked = sql`${old('until_ms')} > ${sql.lit(now)}`
  const open = sql`${old('window_ends_ms')} > ${sql.lit(now)}`
  const full = sql`(${open} and ${old('count')} >= ${sql.lit(rule.limit)})`
  const lockouts = sql`(case when ${old('until_ms')} + ${sql.lit(rule.forgetMs)} > ${sql.lit(now)} then ${old('lockouts')} else 0 end + 1)`
  const duration = lockoutDuration(least, lockouts, rule)
  const window = sql`(case when ${open} then ${old('window_ends_ms')} else ${sql.lit(now + rule.windowMs)} end)`
  return {
    count: sql<number>`case when ${locked} then -1 when ${full} then 0 when ${open} then ${old('count')} + 1 else 1 end`,
    window_ends_ms: sql<number>`case when ${locked} then ${old('window_ends_ms')} when ${full} then 0 else ${window} end`,
    lockouts: sql<number>`case when ${locked} then ${old('lockouts')} when ${full} then ${lockouts} else ${old('lockouts')} end`,
    until_ms: sql<number>`case when ${locked} then ${old('until_ms')} when ${full} then ${sql.lit(now)} + ${duration} else ${old('until_ms')} end`,
    expires_at: sql<number>`case when ${locked} then ${old('expires_at')} when ${full} then ${sql.lit(now + rule.forgetMs)} + ${duration} else ${greatest}(${window}, ${old('until_ms')} + ${sql.lit(rule.forgetMs)}) end`,
  }
}

// The same transition for MySQL, whose `ON DUPLICATE KEY UPDATE` assigns left to right and lets
// each assignment read the columns already assigned. So `count` goes first, from the old row,
// and records the outcome (0: locked now; −1: refused by a lockout; ≥ 1: allowed) for the
// assignments after it, which still see the old `until_ms` until it is assigned last but one.
function mysqlTransition(rule: ThrottleRule, now: number) {
  const col = (column: keyof ThrottleRow) => sql.ref(column)
  const least = sql.raw('least')
  const locked = sql`${col('until_ms')} > ${sql.lit(now)}`
  const open = sql`${col('window_ends_ms')} > ${sql.lit(now)}`
  const lockingNow = sql`(${col('until_ms')} <= ${sql.lit(now)} and ${col('count')} = 0)`
  const lockouts = sql`(case when ${col('until_ms')} + ${sql.lit(rule.forgetMs)} > ${sql.lit(now)} then ${col('lockouts')} else 0 end + 1)`
  return {
    count: sql<number>`case when ${locked} then -1 when ${open} and ${col('count')} >= ${sql.lit(rule.limit)} then 0 when ${open} then ${col('count')} + 1 else 1 end`,
    window_ends_ms: sql<number>`case when ${locked} then ${col('window_ends_ms')} when ${col('count')} = 0 then 0 when ${open} then ${col('window_ends_ms')} else ${sql.lit(now + rule.windowMs)} end`,
    lockouts: sql<number>`case when ${lockingNow} then ${lockouts} else ${col('lockouts')} end`,
    // `lockouts` is already the new count here.
    until_ms: sql<number>`case when ${lockingNow} then ${sql.lit(now)} + ${lockoutDuration(least, sql`(${col('lockouts')})`, rule)} else ${col('until_ms')} end`,
    expires_at: sql<number>`greatest(${col('window_ends_ms')}, ${col('until_ms')} + ${sql.lit(rule.forgetMs)})`,
  }
}

// lockoutMs · 2^(n−1), at most maxLockoutMs; the shift is capped so it cannot overflow.
function lockoutDuration(
  least: RawBuilder<unknown>,
  lockouts: Expression<unknown>,
  rule: ThrottleRule,
): RawBuilder<number> {
  return sql<number>`${least}(${sql.lit(rule.lockoutMs)} << ${least}(${lockouts} - 1, 30), ${sql.lit(rule.maxLockoutMs)})`
}

const createThrottleTable: Migration = {
  async up(db) {
    // Keys are base64url: case matters, and MySQL compares text case-insensitively by default.
    const keyType =
      engineOf(db) === 'mysql'
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

// Reservations keep one row per key (the window, the lockout) instead of a row per window and
// one per lockout. The old rows are counters of the racy design: dropped, not converted.
const reservationTable: Migration = {
  async up(db) {
    await db.schema.dropTable(TABLE).execute()
    const keyType =
      engineOf(db) === 'mysql'
        ? sql.raw('varchar(100) character set ascii collate ascii_bin')
        : sql.raw('varchar(100)')
    await db.schema
      .createTable(TABLE)
      .addColumn('key', keyType, (column) => column.primaryKey())
      .addColumn('count', 'integer', (column) => column.notNull())
      .addColumn('window_ends_ms', 'bigint', (column) => column.notNull())
      .addColumn('until_ms', 'bigint', (column) => column.notNull())
      .addColumn('lockouts', 'integer', (column) => column.notNull())
      .addColumn('expires_at', 'bigint', (column) => column.notNull())
      .execute()
    await db.schema
      .createIndex('mortar_login_throttle_expires_at')
      .on(TABLE)
      .column('expires_at')
      .execute()
  },
  async down(db, context) {
    await db.schema.dropTable(TABLE).execute()
    await createThrottleTable.up(db, context)
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
  '0002_one_row_per_key': reservationTable,
})
