import {
  databaseToken,
  defineModule,
  isDeadlock,
  type Migration,
  type Module,
  type ModuleMigrations,
  schedule,
  describeOption,
} from '@mortar/core'
import type { Kysely } from 'kysely'
import { SessionConfigError, SessionExistsError } from '../../errors.js'
import { checkRegistryText } from '../registry-text.js'
import { caseSensitiveVarchar, insertIfAbsent } from '../../sql/index.js'
import {
  SESSION_REGISTRY,
  SESSION_REGISTRY_MODULE,
  type SessionOwner,
  type SessionRecord,
  type SessionRegistry,
} from '../session-registry.js'

const TABLE = 'mortar_session'
// A write chosen as a deadlock's victim is run again this many times in all.
const DEADLOCK_ATTEMPTS = 3

interface SessionRow {
  id: string
  user_id: string
  // Milliseconds since the epoch: one portable type on every engine, exact to the ms.
  created_at: number | string | bigint
  last_seen_at: number | string | bigint
  ip: string | null
  user_agent: string | null
}

interface SessionTables {
  mortar_session: SessionRow
}

/** Options of {@link KyselySessionRegistry}. */
export interface KyselySessionRegistryOptions {
  /**
   * The Kysely to run on, with the `mortar_session` table created by
   * {@link sessionRegistryMigrations}. In an app, the transaction-aware one of `databaseToken()`.
   */
  readonly db: Kysely<unknown>
}

/**
 * A {@link SessionRegistry} in a SQL table (`mortar_session`) through Kysely, on SQLite,
 * PostgreSQL or MySQL/MariaDB. Each method is one statement; `revoke` deletes the row.
 *
 * @example
 * ```ts
 * import { KyselySessionRegistry } from '@mortar/session'
 * import { resolveDatabase } from '@mortar/core'
 *
 * const registry = new KyselySessionRegistry({ db: resolveDatabase(app) })
 * await registry.revokeAll(userId)
 * ```
 */
export class KyselySessionRegistry implements SessionRegistry {
  readonly #db: Kysely<SessionTables>

  constructor(options: KyselySessionRegistryOptions) {
    this.#db = options.db as Kysely<SessionTables>
  }

  async create(record: SessionRecord): Promise<void> {
    checkRegistryText({
      id: record.id,
      userId: record.userId,
      ip: record.ip,
      userAgent: record.userAgent,
    })
    const inserted = await this.#write(() =>
      insertIfAbsent(this.#db as Kysely<unknown>, TABLE, ['id'], {
        id: record.id,
        user_id: record.userId,
        created_at: record.createdAt.getTime(),
        last_seen_at: record.lastSeenAt.getTime(),
        ip: record.ip ?? null,
        user_agent: record.userAgent ?? null,
      }),
    )
    if (!inserted) throw new SessionExistsError()
  }

  /**
   * Runs one write, again when InnoDB (or PostgreSQL) chose it as a deadlock's victim: a
   * `revokeAll` locks the user index then the rows, a `revoke` or `touch` the row then the
   * index, so the two racing is a deadlock the server settles by failing one. Outside a
   * transaction the statement was rolled back whole and running it again is the same write;
   * inside the caller's transaction the whole transaction is gone, so the error is theirs.
   */
  async #write<T>(run: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await run()
      } catch (error) {
        if (attempt >= DEADLOCK_ATTEMPTS || this.#db.isTransaction || !isDeadlock(error)) {
          throw error
        }
      }
    }
  }

  async find(id: string): Promise<SessionRecord | undefined> {
    checkRegistryText({ id })
    const row = await this.#db.selectFrom(TABLE).selectAll().where('id', '=', id).executeTakeFirst()
    return row === undefined ? undefined : toRecord(row)
  }

  async touch(id: string, lastSeenAt: Date): Promise<void> {
    checkRegistryText({ id })
    const ms = lastSeenAt.getTime()
    await this.#write(() =>
      this.#db
        .updateTable(TABLE)
        .set({ last_seen_at: ms })
        .where('id', '=', id)
        .where('last_seen_at', '<', ms)
        .execute(),
    )
  }

  async list(userId: string): Promise<readonly SessionRecord[]> {
    checkRegistryText({ userId })
    const rows = await this.#db
      .selectFrom(TABLE)
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute()
    return rows.map(toRecord)
  }

  async revoke(session: SessionOwner): Promise<boolean> {
    checkRegistryText({ id: session.id, userId: session.userId })
    const result = await this.#write(() =>
      this.#db
        .deleteFrom(TABLE)
        .where('id', '=', session.id)
        .where('user_id', '=', session.userId)
        .executeTakeFirst(),
    )
    return Number(result.numDeletedRows) > 0
  }

  async revokeAll(userId: string, options: { readonly except?: string } = {}): Promise<number> {
    checkRegistryText({ userId, except: options.except })
    let query = this.#db.deleteFrom(TABLE).where('user_id', '=', userId)
    if (options.except !== undefined) query = query.where('id', '<>', options.except)
    const result = await this.#write(() => query.executeTakeFirst())
    return Number(result.numDeletedRows)
  }

  /**
   * Deletes sessions not seen since `before` and returns how many; run it from a periodic job
   * with the cookie's max age, so the table does not grow with abandoned sessions.
   */
  async pruneIdle(before: Date): Promise<number> {
    const result = await this.#write(() =>
      this.#db.deleteFrom(TABLE).where('last_seen_at', '<', before.getTime()).executeTakeFirst(),
    )
    return Number(result.numDeletedRows)
  }
}

function toRecord(row: SessionRow): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    createdAt: new Date(Number(row.created_at)),
    lastSeenAt: new Date(Number(row.last_seen_at)),
    ip: row.ip ?? undefined,
    userAgent: row.user_agent ?? undefined,
  }
}

const createSessionTable: Migration = {
  async up(db) {
    const id = caseSensitiveVarchar(db as Kysely<unknown>, 255)
    await db.schema
      .createTable(TABLE)
      .addColumn('id', id, (column) => column.primaryKey())
      .addColumn('user_id', id, (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('last_seen_at', 'bigint', (column) => column.notNull())
      .addColumn('ip', 'text')
      .addColumn('user_agent', 'text')
      .execute()
    await db.schema
      .createIndex('mortar_session_user_created')
      .on(TABLE)
      .columns(['user_id', 'created_at'])
      .execute()
  },
  async down(db) {
    await db.schema.dropTable(TABLE).execute()
  },
}

/**
 * The migrations that create the `mortar_session` table; {@link databaseSessionRegistry}
 * carries them. Use them directly only to run them under a module of your own.
 *
 * @example
 * ```ts
 * import { ModuleMigrator } from '@mortar/core'
 * import { sessionRegistryMigrations } from '@mortar/session'
 *
 * await new ModuleMigrator({
 *   db,
 *   sources: [{ module: 'session-registry', migrations: sessionRegistryMigrations }],
 * }).up()
 * ```
 */
export const sessionRegistryMigrations: ModuleMigrations = {
  '0001_create_mortar_session': createSessionTable,
}

/** Options of {@link databaseSessionRegistry}. */
export interface DatabaseSessionRegistryOptions {
  /**
   * Sessions not seen for this many seconds are deleted by an hourly schedule (default 30 days,
   * the cookie's default absolute lifetime: no session that old can still be valid).
   */
  readonly pruneIdleAfter?: number
}

const DAY_SECONDS = 86_400

/**
 * A module binding `SESSION_REGISTRY` to a {@link KyselySessionRegistry} on the app database,
 * with the migration that creates its table (`app.migrate()` runs it), and an hourly schedule
 * (`session-registry.prune-idle`, run by the app's workers) that deletes sessions idle for
 * longer than `pruneIdleAfter`, so the table does not grow with abandoned sessions. The
 * embedded default: nothing to run beside the app.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 * import { databaseSessionRegistry } from '@mortar/session'
 *
 * const app = createApp({
 *   database: 'sqlite:./var/app.db',
 *   modules: [databaseSessionRegistry({ pruneIdleAfter: 14 * 86_400 })],
 * })
 * await app.migrate()
 * await app.start()
 * ```
 */
export function databaseSessionRegistry(options: DatabaseSessionRegistryOptions = {}): Module {
  const idleSeconds = options.pruneIdleAfter ?? 30 * DAY_SECONDS
  if (!(Number.isFinite(idleSeconds) && idleSeconds > 0)) {
    throw new SessionConfigError(
      `pruneIdleAfter must be a positive number of seconds; got ${describeOption(idleSeconds)}.`,
    )
  }
  return defineModule({
    name: SESSION_REGISTRY_MODULE,
    migrations: sessionRegistryMigrations,
    register(binder) {
      binder.bind(SESSION_REGISTRY, {
        inject: [databaseToken<unknown>()],
        useFactory: (db) => new KyselySessionRegistry({ db }),
      })
    },
    schedules: [
      schedule('session-registry.prune-idle', { every: '1h' }, async (tick, job) => {
        const registry = job.resolve(SESSION_REGISTRY) as KyselySessionRegistry
        const pruned = await registry.pruneIdle(new Date(tick.at.getTime() - idleSeconds * 1_000))
        job.logger.debug({ pruned }, 'Idle sessions pruned')
      }),
    ],
  })
}
