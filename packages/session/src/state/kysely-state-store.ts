import type { Clock } from '@mortar/core'
import type { ExpressionBuilder, Kysely } from 'kysely'
import type { z } from 'zod'
import { StateConflictError } from '../errors.js'
import { insertIfAbsent } from '../sql/index.js'
import type {
  StateDeleteOptions,
  StateEntry,
  StateNamespace,
  StateNamespaceOptions,
  StatePutOptions,
  StateStore,
} from './state-store.js'
import { type NamespaceSettings, StateStoreDefaults } from './state-store-defaults.js'
import {
  checkExpectedVersion,
  checkStateIds,
  checkTtl,
  decodeState,
  encodeState,
  expiresAt,
} from './state-values.js'

/** The state table, created by `stateMigrations`. */
export const STATE_TABLE = 'mortar_state'
// An unconditional put retries its read-then-compare-and-set this often under contention.
const UNCONDITIONAL_ATTEMPTS = 10
// prune() deletes at most this many rows per statement, so no one statement holds many locks.
const PRUNE_BATCH = 500

interface StateRow {
  owner: string
  namespace: string
  state_key: string
  value: string
  version: number | string
  updated_at: number | string | bigint
  /** In ms; null: never. */
  expires_at: number | string | bigint | null
}

interface StateTables {
  mortar_state: StateRow
}

/** Options of {@link KyselyStateStore}. */
export interface KyselyStateStoreOptions {
  /** The Kysely to run on, with the `mortar_state` table; in an app, that of `databaseToken()`. */
  readonly db: Kysely<unknown>
  /** Stamps `updatedAt`; the system clock by default. */
  readonly clock?: Clock
  /** The default size limit of a value, in UTF-8 bytes of JSON (64 KiB). */
  readonly maxBytes?: number
}

/**
 * A {@link StateStore} in one SQL table (`mortar_state`, JSON as text) through Kysely, on
 * SQLite, PostgreSQL or MySQL/MariaDB. Versions are checked with a conditional `UPDATE … WHERE
 * version = ?` and a first save with an insert that the primary key makes race-safe. Inside a
 * `transaction()` it runs in the transaction.
 *
 * @example
 * ```ts
 * import { KyselyStateStore } from '@mortar/session'
 * import { resolveDatabase } from '@mortar/core'
 * import { z } from 'zod'
 *
 * const state = new KyselyStateStore({ db: resolveDatabase(app) })
 * const drafts = state.namespace('drafts', z.object({ text: z.string() }), { maxBytes: 8_192 })
 * await drafts.put(userId, 'post-1', { text: 'Hello' }, { expectedVersion: 0 })
 * ```
 */
export class KyselyStateStore implements StateStore {
  readonly #db: Kysely<StateTables>
  readonly #defaults: StateStoreDefaults

  constructor(options: KyselyStateStoreOptions) {
    this.#db = options.db as Kysely<StateTables>
    this.#defaults = new StateStoreDefaults(options)
  }

  namespace<S extends z.ZodType>(
    name: string,
    schema: S,
    options: StateNamespaceOptions = {},
  ): StateNamespace<z.output<S>, z.input<S>> {
    return new KyselyStateNamespace<z.output<S>, z.input<S>>(
      this.#db,
      this.#defaults.namespace(name, schema, options),
    )
  }

  async prune(): Promise<number> {
    const now = this.#defaults.clock.nowMs()
    let pruned = 0
    for (;;) {
      const batch = await this.#db
        .selectFrom(STATE_TABLE)
        .select(['owner', 'namespace', 'state_key'])
        .where('expires_at', '<=', now)
        .limit(PRUNE_BATCH)
        .execute()
      if (batch.length === 0) return pruned
      const result = await this.#db
        .deleteFrom(STATE_TABLE)
        .where((eb) =>
          eb(
            eb.refTuple('owner', 'namespace', 'state_key'),
            'in',
            batch.map((row) => eb.tuple(row.owner, row.namespace, row.state_key)),
          ),
        )
        // Saved again since the select: extended, so kept.
        .where('expires_at', '<=', now)
        .executeTakeFirst()
      pruned += Number(result.numDeletedRows)
      if (batch.length < PRUNE_BATCH) return pruned
    }
  }
}

/**
 * Rows that have not expired at `nowMs`. Every read and write of a row names it: expired rows
 * are absent until prune() deletes them, and a versioned UPDATE must not bring one back.
 */
function live(nowMs: number) {
  return (eb: ExpressionBuilder<StateTables, typeof STATE_TABLE>) =>
    eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', nowMs)])
}

class KyselyStateNamespace<T, I> implements StateNamespace<T, I> {
  readonly name: string
  readonly #db: Kysely<StateTables>
  readonly #settings: NamespaceSettings

  constructor(db: Kysely<StateTables>, settings: NamespaceSettings) {
    this.#db = db
    this.name = settings.name
    this.#settings = settings
  }

  async get(owner: string, key: string): Promise<StateEntry<T> | undefined> {
    checkStateIds({ owner, key })
    const row = await this.#row(owner, key)
    return row === undefined ? undefined : this.#toEntry(row)
  }

  async put(
    owner: string,
    key: string,
    value: I,
    options: StatePutOptions = {},
  ): Promise<StateEntry<T>> {
    checkStateIds({ owner, key })
    // Before any read: a bad ttl is refused as such, never reported as a version conflict.
    checkTtl(options.ttl)
    const { data, json } = encodeState(
      { namespace: this.name, key },
      this.#settings.schema,
      this.#settings.maxBytes,
      value,
    )
    const ttl = options.ttl
    const entry = (version: number, updatedAt: Date): StateEntry<T> => ({
      key,
      value: data as T,
      version,
      updatedAt,
    })

    if (options.expectedVersion !== undefined) {
      const expected = checkExpectedVersion(options.expectedVersion)
      const now = this.#settings.clock.now()
      if (await this.#compareAndSet(owner, key, json, expected, now, ttl))
        return entry(expected + 1, now)
      throw await this.#conflict(owner, key, expected)
    }

    for (let attempt = 0; attempt < UNCONDITIONAL_ATTEMPTS; attempt++) {
      const current = await this.#row(owner, key)
      const version = current === undefined ? 0 : Number(current.version)
      const now = this.#settings.clock.now()
      if (await this.#compareAndSet(owner, key, json, version, now, ttl))
        return entry(version + 1, now)
    }
    throw await this.#conflict(owner, key, undefined)
  }

  async delete(owner: string, key: string, options: StateDeleteOptions = {}): Promise<boolean> {
    checkStateIds({ owner, key })
    let query = this.#db
      .deleteFrom(STATE_TABLE)
      .where('owner', '=', owner)
      .where('namespace', '=', this.name)
      .where('state_key', '=', key)
      .where(live(this.#settings.clock.nowMs()))
    const expected =
      options.expectedVersion === undefined
        ? undefined
        : checkExpectedVersion(options.expectedVersion)
    if (expected !== undefined) query = query.where('version', '=', expected)
    const deleted = Number((await query.executeTakeFirst()).numDeletedRows) > 0
    if (!deleted && expected !== undefined) {
      const conflict = await this.#conflict(owner, key, expected)
      // Expecting absence and finding it is no conflict: there was nothing to delete.
      if (expected !== 0 || conflict.actualVersion !== 0) throw conflict
    }
    return deleted
  }

  async list(owner: string): Promise<readonly StateEntry<T>[]> {
    checkStateIds({ owner })
    const rows = await this.#db
      .selectFrom(STATE_TABLE)
      .selectAll()
      .where('owner', '=', owner)
      .where('namespace', '=', this.name)
      .where(live(this.#settings.clock.nowMs()))
      .orderBy('state_key')
      .execute()
    return rows.map((row) => this.#toEntry(row))
  }

  /** Saves `json` as version `expected + 1` if the stored version is `expected` (0: absent). */
  async #compareAndSet(
    owner: string,
    key: string,
    json: string,
    expected: number,
    now: Date,
    ttl: number | undefined,
  ): Promise<boolean> {
    const expires = expiresAt(now.getTime(), ttl) ?? null
    if (expected === 0) {
      // An expired row is absent: clear it so the insert can take its key.
      await this.#db
        .deleteFrom(STATE_TABLE)
        .where('owner', '=', owner)
        .where('namespace', '=', this.name)
        .where('state_key', '=', key)
        .where('expires_at', '<=', now.getTime())
        .execute()
      return insertIfAbsent(
        this.#db as Kysely<unknown>,
        STATE_TABLE,
        ['owner', 'namespace', 'state_key'],
        {
          owner,
          namespace: this.name,
          state_key: key,
          value: json,
          version: 1,
          updated_at: now.getTime(),
          expires_at: expires,
        },
      )
    }
    const result = await this.#db
      .updateTable(STATE_TABLE)
      .set({
        value: json,
        version: expected + 1,
        updated_at: now.getTime(),
        expires_at: expires,
      })
      .where('owner', '=', owner)
      .where('namespace', '=', this.name)
      .where('state_key', '=', key)
      .where('version', '=', expected)
      .where(live(now.getTime()))
      .executeTakeFirst()
    return Number(result.numUpdatedRows) === 1
  }

  async #conflict(
    owner: string,
    key: string,
    expected: number | undefined,
  ): Promise<StateConflictError> {
    const current = await this.#row(owner, key)
    const actualVersion = current === undefined ? 0 : Number(current.version)
    return new StateConflictError({
      namespace: this.name,
      key,
      expectedVersion: expected ?? actualVersion,
      actualVersion,
    })
  }

  #row(owner: string, key: string): Promise<StateRow | undefined> {
    return this.#db
      .selectFrom(STATE_TABLE)
      .selectAll()
      .where('owner', '=', owner)
      .where('namespace', '=', this.name)
      .where('state_key', '=', key)
      .where(live(this.#settings.clock.nowMs()))
      .executeTakeFirst()
  }

  #toEntry(row: StateRow): StateEntry<T> {
    const place = { namespace: this.name, key: row.state_key }
    return {
      key: row.state_key,
      value: decodeState(place, this.#settings.schema, row.value) as T,
      version: Number(row.version),
      updatedAt: new Date(Number(row.updated_at)),
    }
  }
}
