import { QueueClock } from '../sql/queue-clock.js'
import { randomBytes } from 'node:crypto'
import { AsyncResource } from 'node:async_hooks'
import type { JobsOptions } from 'bullmq'
import { type Kysely, type RawBuilder, sql } from 'kysely'
import type { Logger } from '../../logger/logger.js'
import type { Database } from '../../persistence/database/database.js'
import { deleteJobs, queueDb } from '../sql/queue-db.js'

/** What a job carries in BullMQ besides its payload. */
export interface JobData {
  /** The payload as JSON, exactly as enqueued. */
  readonly p: string
  /** Attempts allowed. */
  readonly m: number
  readonly k: string | null
  /** Enqueued at (ms). */
  readonly c: number
}

/** A job as the relay hands it to BullMQ. */
export interface RelayJob {
  readonly name: string
  readonly data: JobData
  readonly opts: JobsOptions & { readonly jobId: string }
}

/** What the relay needs of the BullMQ engine it feeds. */
export interface RelayTarget {
  /** Loads `bullmq`; {@link RelayTarget.add} works once this resolved. */
  load(): Promise<unknown>
  /**
   * Adds the jobs not added before, each in one step with a mark of its id, and records their
   * names (status and purge find their queues by them). A marked job is never added again,
   * even once it finished and BullMQ removed it: its row may outlive the add (a failed delete
   * or commit, a crash), and BullMQ's jobId only dedups while the job exists.
   */
  add(jobs: readonly RelayJob[]): Promise<void>
  /** Forgets the marks of jobs whose outbox rows are gone for good. */
  settle(ids: readonly string[]): Promise<void>
  /** A page of the marks from `cursor` (`'0'` starts over), and the cursor of the next page. */
  marks(cursor: string): Promise<{ readonly cursor: string; readonly ids: readonly string[] }>
}

/** Options of {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  /** The database whose `mortar_job` rows are the outbox. */
  readonly database: Database
  readonly target: RelayTarget
  readonly logger: Logger | undefined
  /** How often the sweep relays rows left behind, in ms. */
  readonly sweepMs: number
}

interface OutboxRow {
  id: string | number | bigint
  name: string
  payload: string
  dedup_key: string | null
  /** Until the row is due, in ms (≤ 0 when due). */
  wait: string | number | bigint
  max_attempts: string | number
  created_at: string | number | bigint
  relay_token: string | null
}

const RELAY_BATCH = 1_000
/**
 * Bytes of rows (payload, name and key) one relay call moves at most, however many rows that
 * is: a thousand rows of large payloads were read into memory at once and sent as one MULTI of
 * gigabytes, past what Redis takes in one request. A row larger than this goes alone.
 */
export const RELAY_BYTES = 8 * 1024 * 1024
const RELAY_LANES = 3

/**
 * Moves committed outbox rows (`mortar_job`) to BullMQ, each under its row id and token as
 * BullMQ's `jobId` (see {@link jobId}) so relaying a row twice never makes a second job, and deletes them once BullMQ has
 * them. A relay runs after each commit that enqueued; a sweep on a timer relays rows a crash or
 * an unreachable Redis left behind.
 */
export class OutboxRelay {
  readonly #database: Database
  readonly #clock: QueueClock
  readonly #target: RelayTarget
  readonly #logger: Logger | undefined
  readonly #sweepMs: number
  #relaying: Promise<number> | undefined
  #again = false
  #relayed = 0
  #sweepTimer: NodeJS.Timeout | undefined
  #closed = false
  /** Where the sweep's look for stale marks goes on from. */
  #marksCursor = '0'

  constructor(options: OutboxRelayOptions) {
    this.#database = options.database
    this.#clock = new QueueClock(options.database)
    this.#target = options.target
    this.#logger = options.logger
    this.#sweepMs = options.sweepMs
  }

  /** Jobs this process has relayed to BullMQ so far. */
  get relayed(): number {
    return this.#relayed
  }

  /** Relays the outbox until it is empty, one relay at a time per process; returns how many. */
  relay(): Promise<number> {
    if (this.#relaying) {
      this.#again = true
      return this.#relaying
    }
    // A full first batch means a backlog: on PostgreSQL more lanes then take batches side by
    // side (rows another lane holds are skipped), so one lane's database round trips overlap
    // another's addBulk. MariaDB's lanes deadlock on each other's row locks, and SQLite has one
    // connection: one lane there.
    const lanes = this.#database.engine === 'postgres' ? RELAY_LANES : 1
    const lane = async (): Promise<number> => {
      let relayed = 0
      let batch: RelayBatch
      do {
        batch = await this.#relayBatch()
        relayed += batch.relayed
      } while (batch.more)
      return relayed
    }
    const run = async (): Promise<number> => {
      let relayed = 0
      try {
        do {
          this.#again = false
          const first = await this.#relayBatch()
          relayed += first.relayed
          if (first.more) {
            const more = await Promise.all(Array.from({ length: lanes }, lane))
            relayed += more.reduce((sum, count) => sum + count, 0)
          }
        } while (this.#again)
      } finally {
        this.#relaying = undefined
      }
      return relayed
    }
    this.#relaying = run()
    return this.#relaying
  }

  /** Starts the sweep unless it runs or the relay was closed. */
  startSweep(): void {
    if (this.#sweepTimer !== undefined || this.#closed) return
    this.#sweepTimer = setInterval(this.#sweep, this.#sweepMs)
    this.#sweepTimer.unref()
  }

  stopSweep(): void {
    clearInterval(this.#sweepTimer)
    this.#sweepTimer = undefined
  }

  /** Stops the sweep for good and waits for the relay in flight. */
  async close(): Promise<void> {
    this.#closed = true
    this.stopSweep()
    await this.#relaying?.catch(() => undefined)
  }

  // Bound here, outside any caller's context: a timer started by an enqueue inside a
  // transaction must not run its relays in that (by then finished) transaction.
  readonly #sweep = AsyncResource.bind((): void => {
    this.relay()
      .catch((error: unknown) => {
        this.#logger?.warn(
          { err: error },
          'Relaying jobs to BullMQ failed; they stay in the outbox and are relayed when Redis is back',
        )
      })
      // Whatever the relay met (a row whose delete fails must not keep the rest forever).
      .then(() => this.#forgetStale())
      .catch((error: unknown) => {
        // Harmless until the next sweep tries again; the relay's warning tells of an outage.
        this.#logger?.debug({ err: error }, 'Forgetting stale relay marks failed; retrying')
      })
  })

  /**
   * Forgets, a page each sweep, the marks of jobs whose outbox rows are gone: a settle that
   * failed (Redis gone for a moment) or a process that died before it leaves them, and nothing
   * else would, so the set would only grow. A row still in the outbox (its delete failed, its
   * relay has not committed) keeps its mark: seen before its commit, its rows are still there.
   */
  async #forgetStale(): Promise<void> {
    const { cursor, ids } = await this.#target.marks(this.#marksCursor)
    this.#marksCursor = cursor
    if (ids.length === 0) return
    const sqlite = this.#database.engine === 'sqlite'
    const rowIds = ids.flatMap((id) => {
      const rowId = parseJobId(id)?.rowId
      return rowId === undefined ? [] : [sqlite ? Number(rowId) : rowId]
    })
    const kept = new Set<string>()
    if (rowIds.length > 0) {
      const { rows } = await sql<Pick<OutboxRow, 'id' | 'relay_token'>>`select id, relay_token
        from mortar_job where id in (${sql.join(rowIds)})`.execute(queueDb(this.#database))
      for (const row of rows) kept.add(jobId(String(row.id), row.relay_token))
    }
    const gone = ids.filter((id) => !kept.has(id))
    if (gone.length > 0) await this.#target.settle(gone)
  }

  /** Moves up to one batch of outbox rows to BullMQ. */
  async #relayBatch(): Promise<RelayBatch> {
    await this.#target.load()
    // Server engines: rows another process is relaying are skipped, so two relays rarely send
    // one row twice (BullMQ would ignore the second add of a jobId it still holds anyway).
    const engine = this.#database.engine
    // The background pool: on MariaDB read committed, so the scan of the outbox takes no gap
    // locks that enqueues inside the app's transactions would wait for or deadlock with.
    const { ids, more } =
      engine === 'sqlite'
        ? await this.#relayRows(queueDb(this.#database))
        : await (this.#database.background as Kysely<unknown>)
            .transaction()
            .execute((trx) => this.#relayRows(trx, engine === 'postgres'))
    if (ids.length > 0) {
      // The rows are gone: their marks only take room now. One left by a failure here is
      // harmless, as no later row has its id (tokens are random).
      await this.#target.settle(ids).catch((error: unknown) => {
        this.#logger?.warn({ err: error }, 'Forgetting relayed jobs in Redis failed')
      })
    }
    return { relayed: ids.length, more }
  }

  /**
   * Takes rows, adds them to BullMQ, deletes them: on a server engine inside one transaction, so
   * a failed add leaves them for the next relay. The rows are picked by their size first (ids
   * and lengths only, see {@link OutboxRelay.#pick}), then read: at most {@link RELAY_BATCH} rows
   * and {@link RELAY_BYTES} bytes, one row at least. PostgreSQL takes and deletes in one
   * statement.
   */
  async #relayRows(
    db: Kysely<unknown>,
    deleteFirst = false,
  ): Promise<{ ids: string[]; more: boolean }> {
    const { picked, more } = await this.#pick(db)
    if (picked.length === 0) return { ids: [], more }
    const which = this.#idIn(picked)
    const columns = sql`id, name, payload, dedup_key, run_at - ${this.#clock.server()} as wait, max_attempts, created_at, relay_token`
    // Locked by the pick (server engines), so no other relay takes them meanwhile.
    const rows = (
      deleteFirst
        ? await sql<OutboxRow>`delete from mortar_job where ${which} returning ${columns}`.execute(
            db,
          )
        : await sql<OutboxRow>`select ${columns} from mortar_job where ${which} order by id`.execute(
            db,
          )
    ).rows
    if (rows.length === 0) return { ids: [], more }
    const jobs = rows.map((row): RelayJob => {
      const key = row.dedup_key
      // How long until the row is due, by the database's clock (which timed its delay), not
      // this process's.
      const wait = Number(row.wait)
      return {
        name: row.name,
        data: { p: row.payload, m: Number(row.max_attempts), k: key, c: Number(row.created_at) },
        opts: {
          jobId: jobId(String(row.id), row.relay_token),
          ...(wait > 0 ? { delay: wait } : {}),
          ...(key === null ? {} : { deduplication: { id: key } }),
          removeOnComplete: true,
          removeOnFail: false,
        },
      }
    })
    await this.#target.add(jobs)
    this.#relayed += rows.length
    if (!deleteFirst) {
      await deleteJobs(
        this.#database,
        rows.map((row) => String(row.id)),
      ).execute(db)
    }
    return { ids: jobs.map((job) => job.opts.jobId), more }
  }

  /**
   * The ids of the rows this relay takes, locked on a server engine (rows another relay holds
   * are skipped), and whether rows may be left. The sizes are read without locks and only the
   * rows that fit are locked: locking a whole batch and taking the part under the cap kept the
   * rest locked until this relay's transaction ended, out of every other relay's reach. When
   * others hold some of the rows that fit, the pick goes on past them with the bytes left.
   */
  async #pick(
    db: Kysely<unknown>,
  ): Promise<{ picked: (string | number | bigint)[]; more: boolean }> {
    const engine = this.#database.engine
    const octets = (column: string) =>
      engine === 'sqlite'
        ? sql`length(cast(${sql.ref(column)} as blob))`
        : engine === 'postgres'
          ? sql`octet_length(${sql.ref(column)})`
          : sql`length(${sql.ref(column)})`
    const bytesOf = sql`${octets('payload')} + ${octets('name')} + coalesce(${octets('dedup_key')}, 0)`
    const picked: (string | number | bigint)[] = []
    let bytes = 0
    let after: string | number | bigint | undefined
    for (;;) {
      const limit = RELAY_BATCH - picked.length
      const sized = (
        await sql<{ id: string | number | bigint; bytes: string | number }>`select id,
            ${bytesOf} as bytes from mortar_job
            ${after === undefined ? sql`` : sql`where id > ${after}`}
            order by id limit ${limit}`.execute(db)
      ).rows
      const fit: typeof sized = []
      let fitBytes = 0
      for (const row of sized) {
        const size = Number(row.bytes)
        if (picked.length + fit.length > 0 && bytes + fitBytes + size > RELAY_BYTES) break
        fit.push(row)
        fitBytes += size
      }
      const full = fit.length < sized.length
      const last = fit.at(-1)
      if (last === undefined) return { picked, more: full }
      const taken =
        engine === 'sqlite'
          ? fit
          : (
              await sql<{ id: string | number | bigint; bytes: string | number }>`select id,
                  ${bytesOf} as bytes from mortar_job
                  where ${this.#idIn(fit.map((row) => row.id))}
                  order by id for update skip locked`.execute(db)
            ).rows
      for (const row of taken) {
        picked.push(row.id)
        bytes += Number(row.bytes)
      }
      after = last.id
      // Full (the bytes or the rows), unless others held some rows that fit: their bytes are
      // still free for the rows past them.
      const skipped = taken.length < fit.length
      if ((full && !skipped) || picked.length === RELAY_BATCH) return { picked, more: true }
      // Every row past `after` was read: the outbox holds no more.
      if (!full && sized.length < limit) return { picked, more: false }
    }
  }

  /** On PostgreSQL one array, so the statement's text (and plan) is the same for any count. */
  #idIn(ids: readonly (string | number | bigint)[]): RawBuilder<unknown> {
    return this.#database.engine === 'postgres'
      ? sql`id = any(${ids.map(String)}::bigint[])`
      : sql`id in (${sql.join(ids)})`
  }
}

/** What one relay call moved, and whether rows it left may be waiting. */
interface RelayBatch {
  readonly relayed: number
  readonly more: boolean
}

/**
 * A job's id, the same in the outbox and in BullMQ: the row id behind a letter (BullMQ keeps
 * integer ids for its own), then the row's random token. A row id alone comes back when the
 * database's ids restart and Redis is kept (a restore, a reset, another schema on the same
 * prefix), and BullMQ ignores an add under an id it still holds: the job would be lost. Rows
 * written before tokens have none, and keep the id `j<row id>`.
 */
export function jobId(rowId: string, token: string | null): string {
  return token === null ? `j${rowId}` : `j${rowId}.${token}`
}

/** A new token for an outbox row (72 random bits, URL-safe). */
export function newRelayToken(): string {
  return randomBytes(9).toString('base64url')
}

/** The row id and token of a job id of {@link jobId}'s either form; undefined for another id. */
export function parseJobId(id: string): { rowId: string; token: string | null } | undefined {
  const match = /^j(\d{1,19})(?:\.([\w-]{12}))?$/.exec(id)
  if (match === null) return undefined
  return { rowId: match[1] as string, token: match[2] ?? null }
}
