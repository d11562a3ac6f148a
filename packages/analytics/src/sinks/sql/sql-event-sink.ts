import { type Clock, type DatabaseEngine, refuseSchemaPlugins, SystemClock } from '@mortar/core'
import { CompiledQuery, type Kysely, sql } from 'kysely'
import {
  BATCH_TABLE,
  EVENT_TABLE,
  FAILED_TABLE,
  IDENTITY_TABLE,
} from '../../storage/analytics-tables.js'
import { AnalyticsBatchError } from '../../errors.js'
import { MAX_ID_LENGTH, MAX_NAME_LENGTH, splitBatch } from '../../storage/batch-limits.js'
import { firstChars, fitsColumn, storable, wholeText } from '../../storage/storable-text.js'
import { skippingDuplicates } from '../../storage/bulk-sql.js'
import { engineOf } from '../../storage/sql-dialect.js'
import {
  purgeSuppressed,
  purgeSuppressedStatement,
  readSuppressionMark,
} from '../../privacy/suppressed-writes.js'
import type {
  EventBatch,
  EventSink,
  FailedEvent,
  StoredEvent,
  WriteOutcome,
} from '../event-sink.js'
import { CopyRows, CopyUnsupportedError, copyInto } from './postgres-copy.js'
import { isTransientDatabaseError } from './transient-error.js'

/** Options of {@link SqlEventSink}. */
export interface SqlEventSinkOptions {
  /**
   * The Kysely to write with, where `analyticsMigrations` ran: in an app, the transaction-aware
   * one of `databaseToken()`, so `trackNow()` inside a transaction commits with it.
   */
  readonly db: Kysely<unknown>
  /** Stamps the batch log and late suppressions: the app's clock (`CLOCK`); the system's by default. */
  readonly clock?: Clock
}

const EVENT_COLUMNS = [
  'occurred_at',
  'id',
  'batch_id',
  'name',
  'user_id',
  'anonymous_id',
  'session_id',
  'properties',
  'ip',
  'user_agent',
  'country',
] as const

const FAILED_COLUMNS = [
  'id',
  'occurred_at',
  'batch_id',
  'name',
  'user_id',
  'anonymous_id',
  'reason',
  'properties',
  'whole_name',
  'whole_user_id',
  'whole_anonymous_id',
] as const

// Rows per multi-row INSERT, one cached statement text for every full chunk. SQLite: 2,000 rows,
// at most 22,000 parameters (its limit is 32,766): each statement run has a fixed cost, and
// 2,000-row statements took about a tenth less CPU a batch than 500-row ones. MariaDB and
// PostgreSQL (failed events, links): 500 rows, at most 5,500 parameters.
const CHUNK_ROWS = { sqlite: 2_000, mysql: 500, postgres: 500 } as const satisfies Record<
  DatabaseEngine,
  number
>

/**
 * The built-in {@link EventSink}: the app's own database, one transaction per batch, set-based
 * writes per engine. PostgreSQL takes the events by `COPY … FROM STDIN` on the connection Kysely
 * holds (a batch of events alone: the COPY and its log row in one query, one round trip);
 * SQLite and MariaDB by multi-row inserts (2,000 and 500 rows). A batch also writes one row to the batch
 * log (which the rollup folds in, then deletes), its failed events and its identity links.
 * Writing a batch again stores nothing twice: the first attempt's plain writes fail as a whole
 * on a duplicate key (its log row, or its event ids once the rollup removed that row), and the
 * batch is written again by the path that skips existing keys (`ON CONFLICT DO NOTHING`;
 * on MariaDB a plain insert, then a no-op `ON DUPLICATE KEY UPDATE`: never `INSERT IGNORE`,
 * which would store a value too long cut), which the batch log's key short-circuits. Whatever the path, a
 * batch stores nothing of an identity `forgetUser` suppressed, even one it forgot after the
 * tracker checked the batch: the write deletes such rows before it commits, under a lock that
 * orders it with forgetUser's transaction.
 *
 * @example
 * ```ts
 * import { SqlEventSink } from '@mortar/analytics'
 * import { resolveDatabase } from '@mortar/core'
 *
 * const sink = new SqlEventSink({ db: resolveDatabase(app) })
 * ```
 */
export class SqlEventSink implements EventSink {
  readonly #db: Kysely<unknown>
  readonly #engine: DatabaseEngine
  readonly #clock: Clock
  #copyWorks = true
  /** COPY rows encoded ahead, by batch, while the batch before was written. */
  readonly #encoded = new WeakMap<EventBatch, Buffer>()

  constructor(options: SqlEventSinkOptions) {
    // Its batch log and COPY are raw SQL, which a schema plugin would not reach.
    refuseSchemaPlugins(options.db)
    this.#db = options.db
    this.#engine = engineOf(options.db)
    this.#clock = options.clock ?? new SystemClock()
  }

  isTransient(error: unknown): boolean {
    return isTransientDatabaseError(error)
  }

  prepare(batch: EventBatch): void {
    if (this.#copies(batch)) this.#encoded.set(batch, copyData(batch.events, batch.id))
  }

  /**
   * Writes the batch in one transaction. Entries some engine would refuse or change (see
   * {@link AnalyticsBatchError}) are left out, the rest written, then the error thrown.
   */
  async write(batch: EventBatch): Promise<WriteOutcome | undefined> {
    const { valid, refused } = splitBatch(batch)
    const outcome = await this.#write(valid)
    if (refused.length > 0) throw new AnalyticsBatchError(refused)
    return outcome
  }

  async #write(batch: EventBatch): Promise<WriteOutcome | undefined> {
    if (batch.events.length === 0 && batch.failed.length === 0 && batch.links.length === 0) {
      return undefined
    }
    const db = this.#db
    // Inside the caller's transaction (trackNow in a checkout): join it, and never risk a
    // failed COPY aborting it.
    if (db.isTransaction) return this.#writeIn(db, batch, false)
    try {
      if (this.#copies(batch)) return await this.#copyBatch(batch)
      return await db.transaction().execute((trx) => this.#writeIn(trx, batch, true))
    } catch (error) {
      if (error instanceof CopyUnsupportedError) {
        this.#copyWorks = false
      } else if (!isUniqueViolation(error)) {
        throw error
      }
      // A retry of a batch whose first write committed after the rollup removed its log row:
      // every event is there already; the path that skips existing keys writes none of them.
      return db.transaction().execute((trx) => this.#writeIn(trx, batch, false))
    }
  }

  /** Whether the batch is PostgreSQL's common case, events alone, written by one COPY query. */
  #copies(batch: EventBatch): boolean {
    return (
      this.#copyWorks &&
      this.#engine === 'postgres' &&
      batch.events.length > 0 &&
      batch.failed.length === 0 &&
      batch.links.length === 0
    )
  }

  /**
   * PostgreSQL's common case, a batch of events alone, in one round trip: the COPY and the
   * batch's log row in one query, which PostgreSQL runs as one implicit transaction. A batch
   * written before fails it as a whole on a duplicate key, and write falls back.
   */
  async #copyBatch(batch: EventBatch): Promise<WriteOutcome> {
    const { first, last } = timeRange(batch.events)
    // Integers only (checked), so the statement carries its values in its text.
    const values = [batch.id, first, last, batch.events.length, this.#clock.nowMs()].map(integer)
    const log = `insert into ${BATCH_TABLE} (batch_id, first_at, last_at, events, created_at) values (${values.join(', ')})`
    // The share lock after the COPY (a query cannot run before it here): PostgreSQL's forgetUser
    // never waits on rows it cannot see, so the order risks no deadlock, and the purge that
    // follows reads the suppressions committed before the lock was granted.
    const then = [
      readSuppressionMark('postgres'),
      log,
      purgeSuppressedStatement(batch.id, first, last),
    ].join('; ')
    const rows = this.#encoded.get(batch) ?? copyData(batch.events, batch.id)
    const counts = await copyInto(this.#db, EVENT_TABLE, EVENT_COLUMNS, rows, then)
    // The purge's, last.
    return { suppressed: { events: counts.at(-1) ?? 0, failed: 0 } }
  }

  /**
   * Writes a batch in `db`'s transaction. `fast`: events by COPY (PostgreSQL) or plain inserts,
   * which fail on a duplicate key (rare: see write); otherwise inserts that skip existing keys,
   * which cost a third more on SQLite.
   */
  async #writeIn(db: Kysely<unknown>, batch: EventBatch, fast: boolean): Promise<WriteOutcome> {
    const { events } = batch
    const now = this.#clock.nowMs()
    // Before any write, so that on MariaDB a forgetUser holding the lock never waits on ours.
    const mark = await db.executeQuery<{ value: unknown }>(
      CompiledQuery.raw(readSuppressionMark(this.#engine), []),
    )
    if (events.length > 0) {
      const { first, last } = timeRange(events)
      const logged = await this.#insertIgnore(
        db,
        BATCH_TABLE,
        ['batch_id', 'first_at', 'last_at', 'events', 'created_at'],
        ['batch_id'],
        [[batch.id, first, last, events.length, now]],
      )
      // The batch is in the log: this batch was written before and not rolled up yet (and
      // purged then).
      if (logged === 0) return { suppressed: { events: 0, failed: 0 } }
      const inserted =
        fast && this.#engine === 'postgres' && this.#copyWorks
          ? ((await copyInto(db, EVENT_TABLE, EVENT_COLUMNS, copyData(events, batch.id)))[0] ?? 0)
          : await this.#insertEvents(db, events, batch.id, fast)
      if (inserted === 0) {
        // Written before and already rolled up: a log row now would count it twice.
        await sql`delete from ${sql.table(BATCH_TABLE)} where batch_id = ${batch.id}`.execute(db)
      }
    }
    if (batch.failed.length > 0) {
      await this.#insertIgnore(
        db,
        FAILED_TABLE,
        FAILED_COLUMNS,
        ['id'],
        batch.failed.map((failed) => failedRow(failed, batch.id)),
      )
    }
    if (batch.links.length > 0) {
      // The first link of an anonymous id wins: a shared computer never merges two users.
      await this.#insertIgnore(
        db,
        IDENTITY_TABLE,
        ['anonymous_id', 'user_id', 'linked_at'],
        ['anonymous_id'],
        batch.links.map((l) => [l.anonymousId, l.userId, l.linkedAt]),
      )
    }
    return {
      suppressed: await purgeSuppressed(db, this.#engine, batch, mark.rows[0]?.value, now),
    }
  }

  async #insertEvents(
    db: Kysely<unknown>,
    events: readonly StoredEvent[],
    batchId: number,
    plain: boolean,
  ): Promise<number> {
    if (this.#engine === 'postgres') {
      // One statement for the whole batch, one array parameter per column.
      const columns: unknown[][] = EVENT_COLUMNS.map(() => new Array(events.length))
      events.forEach((event, i) => {
        const row = eventRow(event, batchId)
        for (let c = 0; c < row.length; c++) (columns[c] as unknown[])[i] = row[c]
      })
      const result = await db.executeQuery(
        CompiledQuery.raw(
          `insert into ${EVENT_TABLE} (${EVENT_COLUMNS.join(', ')}) select * from unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[], $9::text[], $10::text[], $11::text[]) on conflict do nothing`,
          columns,
        ),
      )
      return Number(result.numAffectedRows ?? 0n)
    }
    // The parameters straight from the events, without a row array per event.
    const key = plain ? [] : ['occurred_at', 'id']
    let inserted = 0
    const chunkRows = CHUNK_ROWS[this.#engine]
    for (let start = 0; start < events.length; start += chunkRows) {
      const end = Math.min(events.length, start + chunkRows)
      const parameters = new Array<unknown>((end - start) * EVENT_COLUMNS.length)
      let p = 0
      for (let i = start; i < end; i++) {
        const event = events[i] as StoredEvent
        parameters[p++] = event.occurredAt
        parameters[p++] = event.id
        parameters[p++] = batchId
        parameters[p++] = event.name
        parameters[p++] = event.userId
        parameters[p++] = event.anonymousId
        parameters[p++] = event.sessionId
        parameters[p++] = event.properties
        parameters[p++] = event.ip
        parameters[p++] = event.userAgent
        parameters[p++] = event.country
      }
      inserted += await this.#run(db, EVENT_TABLE, EVENT_COLUMNS, key, end - start, parameters)
    }
    return inserted
  }

  /**
   * One multi-row insert; returns the rows inserted. MariaDB skips existing keys by a plain
   * insert first (a duplicate fails only the statement there, never the transaction), then the
   * no-op update: it counts the rows that update skipped as written. A chunk that was written
   * before counts none: a batch's rows are written all together or not at all.
   */
  async #run(
    db: Kysely<unknown>,
    table: string,
    columns: readonly string[],
    key: readonly string[],
    rows: number,
    parameters: unknown[],
  ): Promise<number> {
    const skipping = this.#engine === 'mysql' && key.length > 0
    try {
      const text = insertSql(this.#engine, table, columns, skipping ? [] : key, rows)
      const result = await db.executeQuery(CompiledQuery.raw(text, parameters))
      return Number(result.numAffectedRows ?? 0n)
    } catch (error) {
      if (!skipping || !isUniqueViolation(error)) throw error
      await db.executeQuery(
        CompiledQuery.raw(insertSql(this.#engine, table, columns, key, rows), parameters),
      )
      return 0
    }
  }

  /**
   * Multi-row inserts in chunks, skipping rows whose `key` exists (with no key, a plain insert
   * that fails on a duplicate); returns the rows inserted.
   */
  async #insertIgnore(
    db: Kysely<unknown>,
    table: string,
    columns: readonly string[],
    key: readonly string[],
    rows: readonly (readonly unknown[])[],
  ): Promise<number> {
    let inserted = 0
    const chunkRows = CHUNK_ROWS[this.#engine]
    for (let start = 0; start < rows.length; start += chunkRows) {
      const chunk = rows.slice(start, start + chunkRows)
      const parameters: unknown[] = []
      for (const row of chunk) for (const value of row) parameters.push(value)
      inserted += await this.#run(db, table, columns, key, chunk.length, parameters)
    }
    return inserted
  }
}

const statements = new Map<string, string>()

function insertSql(
  engine: DatabaseEngine,
  table: string,
  columns: readonly string[],
  key: readonly string[],
  rows: number,
): string {
  const cacheKey = `${engine}:${table}:${rows}:${key.length}`
  let text = statements.get(cacheKey)
  if (text === undefined) {
    const placeholder = engine === 'postgres' ? (i: number) => `$${i + 1}` : () => '?'
    const tuples: string[] = []
    for (let r = 0; r < rows; r++) {
      const values = columns.map((_, c) => placeholder(r * columns.length + c))
      tuples.push(`(${values.join(', ')})`)
    }
    const insert = `into ${table} (${columns.join(', ')}) values ${tuples.join(', ')}`
    text = key.length === 0 ? `insert ${insert}` : skippingDuplicates(engine, insert, key)
    if (statements.size > 256) statements.clear()
    statements.set(cacheKey, text)
  }
  return text
}

function timeRange(events: readonly StoredEvent[]): { first: number; last: number } {
  let first = Number.POSITIVE_INFINITY
  let last = Number.NEGATIVE_INFINITY
  for (const event of events) {
    if (event.occurredAt < first) first = event.occurredAt
    if (event.occurredAt > last) last = event.occurredAt
  }
  return { first, last }
}

function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new TypeError(`Not an integer: ${value}`)
  return String(value)
}

function eventRow(event: StoredEvent, batchId: number): unknown[] {
  return [
    event.occurredAt,
    event.id,
    batchId,
    event.name,
    event.userId,
    event.anonymousId,
    event.sessionId,
    event.properties,
    event.ip,
    event.userAgent,
    event.country,
  ]
}

/**
 * A failed event's row. A name or id its column cannot hold as given goes whole to its `whole_`
 * column, as JSON; the id column is then NULL and the name column holds its first 255
 * characters for reading. Cut or replaced to fit, two ids became one.
 */
function failedRow(failed: FailedEvent, batchId: number): unknown[] {
  const nameFits = fitsColumn(failed.name, MAX_NAME_LENGTH)
  const id = (value: string | null) =>
    value === null || fitsColumn(value, MAX_ID_LENGTH) ? value : null
  const whole = (value: string | null) =>
    value === null || fitsColumn(value, MAX_ID_LENGTH) ? null : wholeText(value)
  return [
    failed.id,
    failed.occurredAt,
    batchId,
    nameFits ? failed.name : storable(firstChars(failed.name, MAX_NAME_LENGTH)),
    id(failed.userId),
    id(failed.anonymousId),
    failed.reason,
    failed.properties,
    nameFits ? null : wholeText(failed.name),
    whole(failed.userId),
    whole(failed.anonymousId),
  ]
}

function copyData(events: readonly StoredEvent[], batchId: number): Buffer {
  // About what a shop's event takes; the buffer grows past it.
  const rows = new CopyRows(events.length * 160)
  for (const e of events) {
    rows.integer(e.occurredAt)
    rows.text(e.id)
    rows.integer(batchId)
    rows.text(e.name)
    rows.text(e.userId)
    rows.text(e.anonymousId)
    rows.text(e.sessionId)
    rows.text(e.properties)
    rows.text(e.ip)
    rows.text(e.userAgent)
    rows.text(e.country)
    rows.end()
  }
  return rows.finish()
}

/** A duplicate key: PostgreSQL 23505, MariaDB ER_DUP_ENTRY, SQLite's primary-key constraint (1555). */
function isUniqueViolation(error: unknown): boolean {
  const { code, errcode } = (error ?? {}) as { code?: unknown; errcode?: unknown }
  return code === '23505' || code === 'ER_DUP_ENTRY' || errcode === 1555 || errcode === 2067
}
