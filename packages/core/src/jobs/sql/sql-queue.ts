import { randomBytes } from 'node:crypto'
import {
  type CompiledQuery,
  createQueryId,
  type Kysely,
  type OperationNodeSource,
  type QueryResult,
  PrimitiveValueListNode,
  type RawBuilder,
  RawNode,
  sql,
} from 'kysely'
import type { Logger } from '../../logger/logger.js'
import { ChurnVacuum } from '../../persistence/database/churn-vacuum.js'
import type { Database } from '../../persistence/database/database.js'
import type { DatabaseEngine } from '../../persistence/database/database-url.js'
import { ValidationError } from '../../errors/http-errors.js'
import { DatabaseInputError } from '../../persistence/database/database-input-error.js'
import { isDeadlock } from '../../persistence/database/deadlock.js'
import { executePrepared, pipelineWrite } from '../../persistence/database/pipelined-write.js'
import type { JsonValue } from '../job-context.js'
import type { CompanionWrite } from '../job-queue.js'
import { errorLine, jobState, MAX_ERRORS_CHARS, parseErrors, shownPayload } from '../job-state.js'
import type {
  AttemptError,
  ClaimedJob,
  ClaimRead,
  ClaimRequest,
  FailOutcome,
  JobCount,
  JobInfo,
  JobState,
  ListRequest,
  NewJob,
  QueueAdapter,
} from '../queue-adapter.js'
import { exactJson } from './exact-json.js'
import { PostgresListener } from './postgres-listener.js'
import { QueueClock } from './queue-clock.js'
import { SqlScheduleStore } from './sql-schedule-store.js'
import { sqlQueueMigrations } from './sql-queue-migrations.js'
import { queueDb, queueTransaction } from './queue-db.js'

/** Options of {@link SqlQueue}. */
export interface SqlQueueOptions {
  /** The app's database; enqueues join its open transaction. */
  readonly database: Database
  /**
   * PostgreSQL: the connection URL for a listener that hears other processes' new jobs
   * (`LISTEN`), so their workers start at once instead of at the next poll. Without it,
   * workers poll.
   */
  readonly listenUrl?: string
  /**
   * Receives the listener's connection errors and failed vacuums; the database's
   * {@link Database.logger} by default.
   */
  readonly logger?: Logger
}

/**
 * What core passes beside {@link SqlQueueOptions} (not public): the clock the queue keeps time
 * by, which core makes follow a test app's `FakeClock` once the app's clock is known.
 */
export interface SqlQueueInternals {
  readonly clock?: QueueClock
}

// Rows per statement: under every engine's parameter limit (SQLite's 32,766 the lowest).
const CHUNK = 1_000
// Bytes of values an INSERT of jobs carries at most, so that many large payloads are several
// statements of one transaction: PostgreSQL refuses a message past 1 GiB. MariaDB refuses a
// statement past its max_allowed_packet (16 MiB by default), read from the server, less
// PACKET_MARGIN for the statement's own text.
const STATEMENT_BYTES = 64 * 1024 * 1024
const PACKET_MARGIN = 64 * 1024
// What a job's row adds to a statement beyond its name, payload and key (the other values, the
// placeholders or their text).
const ROW_BYTES = 128
// A row this small is sized by a bound (no pass over its text): 3 bytes of UTF-8 at most per
// UTF-16 unit, twice that where mysql2 writes it escaped into the statement.
const SIZED_BY_BOUND = 64 * 1024
// PostgreSQL here runs without autovacuum: after this many finished jobs, the queue vacuums
// and analyzes its own table (skipping it if another process is at it), so it stays a few
// pages long and its claim is planned as a walk of the due index's head. Claims that take
// whole batches check the statistics (first at once, then every this many jobs), so a new or
// long-idle queue's first backlog is not sorted whole on each claim until then.
// Every 10,000 let a bench's third and fourth rounds of 5,000 jobs drain 4-7x slower than the
// first (the dead rows in front of the due index); every 5,000 kept each round as fast.
const VACUUM_EVERY = 5_000
const CHANNEL = 'mortar_jobs'
// PostgreSQL: job ids drawn from the identity's sequence at a time, and the most jobs one
// pipelined INSERT carries.
const ID_BLOCK = 64
// Shapes of companion writes whose pipelined INSERT text is kept (see pipelinedInsert).
const MAX_PIPELINED_SHAPES = 64
// A MariaDB claim chosen as a deadlock's victim is tried this many times before the worker hears.
const CLAIM_ATTEMPTS = 3
// MariaDB: the named lock under which claims take turns at the head of the due index, one per
// database (named locks are server-wide), and how long a claim waits for its turn (seconds)
// before it scans without one. A turn lasts one scan; a lock left held (by a session that
// vanished unseen, until the server drops it) costs each claim this wait, never a stall.
const TURN = sql`concat('mortar_job_claim:', md5(database()))`
const TURN_WAIT_S = 0.5
// PostgreSQL's SQLSTATE for a division by zero: how a completion learns a job was not held.
const DIVISION_BY_ZERO = '22012'

/** The queue clock's now, read with rows whose state it decides. */
interface NowColumn {
  mortar_now: string | number | bigint
}

interface JobRow {
  id: string | number | bigint
  name: string
  payload: string
  dedup_key: string | null
  run_at: string | number | bigint
  attempts: string | number
  max_attempts: string | number
  locked_by: string | null
  progress: string | null
  errors: string | null
  created_at: string | number | bigint
  dead_at: string | number | bigint | null
  /** What the claim read for the job (PostgreSQL, a job name with a read): its JSON text. */
  carried?: string | null
}

/**
 * The `'database'` engine: jobs as rows of `mortar_job` in the app's own database (SQLite,
 * PostgreSQL, MariaDB 10.6+). Enqueue is a plain INSERT through the transaction-aware Kysely,
 * so a job enqueued in a transaction commits or rolls back with it. Workers claim due jobs in
 * batches with `FOR UPDATE SKIP LOCKED` in one statement (MariaDB, which has no
 * `UPDATE … RETURNING`, then reads the rows back by a token the claim wrote), hold them under
 * a lease that one heartbeat per worker renews, and delete finished ones in batches.
 *
 * @example
 * ```ts
 * import { Database, SqlQueue } from '@mortar/core'
 *
 * const queue = new SqlQueue({ database: new Database('sqlite:./var/app.db') })
 * // createApp({ database, jobs: { engine: 'database' } }) builds this one for you.
 * ```
 */
export class SqlQueue implements QueueAdapter {
  readonly engine = 'database'
  readonly migrations = sqlQueueMigrations
  readonly schedules: SqlScheduleStore
  readonly #database: Database
  readonly #clock: QueueClock
  readonly #listenUrl: string | undefined
  readonly #logger: Logger
  readonly #upkeep: ChurnVacuum
  #schema: Promise<string> | undefined
  // MariaDB: the bytes of values one INSERT may carry, by the server's max_allowed_packet.
  #packetBytes: Promise<number> | undefined
  // Ids drawn from the sequence and not used yet (PostgreSQL).
  readonly #ids: string[] = []
  /**
   * PostgreSQL's claim by the names a worker claims (see `#pgClaim`), keyed by their text, not
   * the array, which a caller may change in place; defineJob refuses a NUL in a name.
   */
  readonly #pgClaims = new Map<
    string,
    {
      readonly reads: ReadonlyMap<string, ClaimRead> | undefined
      readonly simulated: boolean
      claim: CompiledQuery<JobRow>
    }
  >()

  constructor(options: SqlQueueOptions) {
    this.#database = options.database
    this.#clock =
      (options as SqlQueueOptions & SqlQueueInternals).clock ?? new QueueClock(options.database)
    this.schedules = new SqlScheduleStore(options.database, this.#clock)
    this.#listenUrl = options.listenUrl
    this.#logger = options.logger ?? options.database.logger
    this.#upkeep = new ChurnVacuum({
      database: options.database,
      table: 'mortar_job',
      every: VACUUM_EVERY,
      logger: this.#logger,
    })
  }

  /**
   * PostgreSQL's claim for a worker's names and reads, compiled once with its per-claim values
   * as slots ({@link NOW}, …) that each claim fills in: built and compiled for each claim, the
   * carried reads' query tree cost the worker more than the rest of the claim, and a new text
   * was hashed again to find its prepared statement's name.
   *
   * The claimed ids are one array probed through the primary key: a join with `next` was
   * planned as a hash join over a scan of the whole table once the table had statistics. One
   * text per worker (its names), so it runs prepared: planned per call it cost the server about
   * 0.1 ms a claim. The reads of the claim's jobs ride with it: one statement where prepare
   * made a second.
   */
  #pgClaim(
    names: readonly string[],
    reads: ReadonlyMap<string, ClaimRead> | undefined,
  ): CompiledQuery<JobRow> {
    // Apart with reads and without: a claim that falls back to none keeps the one that carries.
    const key = `${reads === undefined ? '' : 'carried\0'}${names.join('\0')}`
    const kept = this.#pgClaims.get(key)
    const simulated = this.#clock.simulated
    if (kept !== undefined && kept.reads === reads && kept.simulated === simulated)
      return kept.claim
    // The server's now is in the text; a simulated one is a slot, as the lease.
    const now = simulated ? sql`${NOW}::bigint` : this.#clock.server()
    const next = sql`next as (
        select id from mortar_job where ${dueJobs(names, now, WORKER)} order by run_at, id limit ${LIMIT} for update skip locked
      )`
    const take = sql`update mortar_job set locked_by = ${WORKER}, run_at = ${now} + ${LEASE}::bigint, attempts = attempts + 1, progress = null
      where id = any(array(select id from next))
      returning id, name, payload, attempts, max_attempts`
    const claim = (
      reads === undefined || reads.size === 0
        ? sql<JobRow>`with ${next} ${take}`
        : sql<JobRow>`with ${next}, claimed as (${take})
          select id, name, payload, attempts, max_attempts, ${carriedReads(reads)} as carried from claimed`
    ).compile(this.#db)
    this.#pgClaims.set(key, { reads, simulated, claim })
    return claim
  }

  get #engine(): DatabaseEngine {
    const engine = this.#database.engine
    if (engine === undefined) throw new TypeError('The job queue needs a valid database URL.')
    return engine
  }

  get #db(): Kysely<unknown> {
    return queueDb(this.#database)
  }

  enqueue(jobs: readonly NewJob[]): Promise<readonly (string | undefined)[]> {
    return this.#enqueue(jobs, undefined)
  }

  /**
   * PostgreSQL sends the write and the jobs as one statement (the write a data-modifying
   * `WITH`): one round trip instead of two. SQLite and MariaDB have no such `WITH`; the write
   * goes first, in the same transaction.
   */
  async enqueueAlongside(
    jobs: readonly NewJob[],
    write: CompanionWrite,
  ): Promise<readonly (string | undefined)[]> {
    // With no job to carry it (every one dropped as a duplicate), the write still goes.
    if (this.#engine === 'postgres' && jobs.length > 0) return this.#enqueue(jobs, write)
    const run = async (): Promise<readonly (string | undefined)[]> => {
      // Compiled, not write.execute(): a builder made outside this transaction runs where it was
      // made, on the pool (on SQLite waiting forever for the connection the transaction holds).
      await this.#database.kysely.executeQuery(compiledWrite(write, this.#database.kysely))
      return this.#enqueue(jobs, undefined)
    }
    return this.#database.transaction(run)
  }

  async #enqueue(
    jobs: readonly NewJob[],
    write: CompanionWrite | undefined,
  ): Promise<readonly (string | undefined)[]> {
    if (this.#pipelines(jobs)) return this.#pipeline(jobs, write)
    const statements = this.#statements(jobs, await this.#statementBytes())
    const ids: (string | undefined)[] = []
    const run = async (): Promise<void> => {
      for (const [index, statement] of statements.entries()) {
        ids.push(...(await this.#insert(statement, index === 0 ? write : undefined)))
      }
    }
    // Several statements are one unit: inside the caller's transaction, or a transaction of ours.
    if (statements.length > 1) await this.#database.transaction(run)
    else await run()
    return ids
  }

  /**
   * The jobs split into INSERTs of at most `CHUNK` rows and `bytes` bytes. A job too large for
   * any statement is refused before anything is sent: sent, the server would refuse the whole
   * statement, the caller's transaction left to roll back.
   */
  #statements(jobs: readonly NewJob[], bytes: number): NewJob[][] {
    const escaped = this.#engine === 'mysql'
    const statements: NewJob[][] = []
    let current: NewJob[] = []
    let size = 0
    for (const job of jobs) {
      const rowBytes = jobBytes(job, escaped)
      if (rowBytes > bytes) {
        throw new ValidationError(
          [{ path: 'payload', message: `at most ${bytes} bytes in a statement`, code: 'too_big' }],
          `Job '${job.name}': its row takes ${rowBytes} bytes in a statement, more than ${escaped ? "MariaDB's max_allowed_packet" : 'a statement of the queue'} carries (${bytes}); nothing was enqueued. Store the data elsewhere and enqueue its id${escaped ? ', or raise max_allowed_packet' : ''}.`,
        )
      }
      if (current.length === CHUNK || (current.length > 0 && size + rowBytes > bytes)) {
        statements.push(current)
        current = []
        size = 0
      }
      current.push(job)
      size += rowBytes
    }
    if (current.length > 0) statements.push(current)
    return statements
  }

  /** Bytes of values one INSERT may carry: see {@link STATEMENT_BYTES}. */
  #statementBytes(): Promise<number> | number {
    if (this.#engine !== 'mysql') return STATEMENT_BYTES
    if (this.#packetBytes === undefined) {
      // Read once, in the caller's transaction when there is one (the pool may be held by such).
      const read = sql<{ bytes: string | number }>`select @@max_allowed_packet as bytes`
        .execute(this.#database.kysely)
        .then(({ rows }) => Math.min(STATEMENT_BYTES, Number(rows[0]?.bytes) - PACKET_MARGIN))
      this.#packetBytes = read
      // A failed read is tried again by the next enqueue.
      read.catch(() => {
        if (this.#packetBytes === read) this.#packetBytes = undefined
      })
    }
    return this.#packetBytes
  }

  /**
   * On PostgreSQL inside a transaction, jobs without a key (nothing to learn from the server:
   * no duplicate can drop them) are written without waiting: their ids are drawn beforehand, and
   * the INSERT travels with the transaction's next statement, its COMMIT at the latest, in one
   * round trip (see pipelineWrite). A key needs the server's answer (inserted, or a duplicate),
   * and outside a transaction nothing follows to carry the INSERT: those wait for it.
   */
  #pipelines(jobs: readonly NewJob[]): boolean {
    return (
      this.#engine === 'postgres' &&
      jobs.length > 0 &&
      jobs.length <= ID_BLOCK &&
      jobs.every((job) => job.key === undefined) &&
      // One statement, unsplit: its values well under PostgreSQL's limit.
      jobs.reduce((bytes, job) => bytes + jobBytes(job, false), 0) <= STATEMENT_BYTES &&
      // One text times every job of it: all by their delay from the server's now, or all at
      // their instant.
      (this.#clock.simulated ||
        jobs.every((job) => job.delayMs !== undefined) ||
        jobs.every((job) => job.delayMs === undefined)) &&
      this.#database.inTransaction
    )
  }

  async #pipeline(
    jobs: readonly NewJob[],
    write: CompanionWrite | undefined,
  ): Promise<readonly string[]> {
    const db = this.#database.kysely as Kysely<unknown>
    const ids =
      this.#ids.length >= jobs.length
        ? this.#ids.splice(0, jobs.length)
        : await this.#drawIds(db, jobs.length)
    // Built without the query compiler: only the companion (its shape is the caller's) is
    // compiled, and the INSERT's text and node are kept per shape, so a call only fills values.
    const companion = write === undefined ? undefined : compiledWrite(write, db)
    const parameters: unknown[] = companion === undefined ? [] : [...companion.parameters]
    const tokens = jobs.some((job) => job.token !== undefined)
    const delayed = !this.#clock.simulated && jobs[0]?.delayMs !== undefined
    for (const [i, job] of jobs.entries()) {
      const runAt = delayed ? job.delayMs : this.#absoluteRunAt(job)
      parameters.push(ids[i], job.name, job.payload, runAt, job.maxAttempts, job.createdAtMs)
      if (tokens) parameters.push(job.token ?? null)
    }
    const { text, node } = pipelinedInsert(
      jobs.length,
      companion,
      tokens,
      delayed ? this.#clock.server().compile(db).sql : undefined,
    )
    // Not CompiledQuery.raw's frozen object: pipelineWrite marks it in a WeakSet, slower for those.
    await pipelineWrite(db, { sql: text, query: node, parameters, queryId: createQueryId() })
    return ids
  }

  /**
   * `n` unused job ids, drawn from the identity's sequence `ID_BLOCK` at a time in the caller's
   * transaction (a pool connection of its own could wait forever for a pool that transactions
   * like this one hold). Sequences ignore rollbacks, so an id is never handed out twice.
   */
  async #drawIds(db: Kysely<unknown>, n: number): Promise<string[]> {
    while (this.#ids.length < n) {
      const { rows } = await sql<{
        id: string
      }>`select nextval(pg_get_serial_sequence('mortar_job', 'id')) as id from generate_series(1, ${sql.lit(ID_BLOCK)})`.execute(
        db,
      )
      for (const row of rows) this.#ids.push(String(row.id))
    }
    return this.#ids.splice(0, n)
  }

  async #insert(
    jobs: readonly NewJob[],
    write: CompanionWrite | undefined,
  ): Promise<(string | undefined)[]> {
    const db = this.#database.kysely as Kysely<unknown>
    const tokens = jobs.some((job) => job.token !== undefined)
    const values = sql.join(
      jobs.map((job) => {
        // A delay counts from the server's now: the row's own node then, as it holds an expression.
        if (job.delayMs !== undefined && !this.#clock.simulated) {
          const token = tokens ? sql`, ${job.token ?? null}` : sql``
          return sql`(${job.name}, ${job.payload}, ${job.key ?? null}, ${this.#clock.after(job.delayMs)}, ${job.maxAttempts}, ${job.createdAtMs}${token})`
        }
        const row: unknown[] = [
          job.name,
          job.payload,
          job.key ?? null,
          this.#absoluteRunAt(job),
          job.maxAttempts,
          job.createdAtMs,
        ]
        if (tokens) row.push(job.token ?? null)
        return tuple(row)
      }),
    )
    const columns = tokens
      ? sql`mortar_job (name, payload, dedup_key, run_at, max_attempts, created_at, relay_token)`
      : sql`mortar_job (name, payload, dedup_key, run_at, max_attempts, created_at)`
    // A duplicate key is skipped, never an error that would abort the caller's transaction.
    // MariaDB: IGNORE only downgrades the duplicate key here: every other value was checked.
    const statement =
      this.#engine === 'mysql'
        ? sql<{
            id: string
            dedup_key: string | null
          }>`insert ignore into ${columns} values ${values} returning id, dedup_key`
        : sql<{
            id: string
            dedup_key: string | null
          }>`${write === undefined ? sql`` : sql`with mortar_companion as (${write}) `}insert into ${columns} values ${values} on conflict do nothing returning id, dedup_key`
    const { rows } = await statement.execute(db)
    // Identities are drawn in VALUES order: sorted by id, the rows line up with the jobs.
    const inserted = [...rows].sort((a, b) => compareIds(String(a.id), String(b.id)))
    let next = 0
    return jobs.map((job) => {
      const row = inserted[next]
      if (row !== undefined && (row.dedup_key ?? undefined) === job.key) {
        next += 1
        return String(row.id)
      }
      return undefined
    })
  }

  /** A job's run time as an instant: its own, or its delay from the simulated clock's now. */
  #absoluteRunAt(job: NewJob): number {
    const now = this.#clock.simulatedMs()
    return job.delayMs === undefined || now === undefined ? job.runAtMs : now + job.delayMs
  }

  async claim(request: ClaimRequest): Promise<readonly ClaimedJob[]> {
    // `request.nowMs` is the worker's clock: due times and leases are judged by the queue's.
    const { worker, names, limit, leaseMs } = request
    if (names.length === 0 || limit <= 0) return []
    const engine = this.#engine
    if (engine === 'postgres') {
      try {
        return await this.#claimOnPostgres(request, request.reads)
      } catch (error) {
        // A read the claim carried failed on a job's data: a payload that is not JSON (written
        // by other code or an older version), or a value the read cannot take. The statement
        // claimed nothing; claimed again without the reads, the jobs' prepare reads for them,
        // and the worker buries the job whose payload does not parse.
        if (request.reads === undefined || request.reads.size === 0 || !isDataException(error))
          throw error
        return this.#claimOnPostgres(request, undefined)
      }
    }
    const due = dueJobs(names, this.#clock.now(), worker)
    if (engine === 'sqlite') {
      const { rows } = await sql<JobRow>`update mortar_job
        set locked_by = ${worker}, run_at = ${this.#clock.after(leaseMs)}, attempts = attempts + 1, progress = null
        where id in (select id from mortar_job where ${due} order by run_at, id limit ${limit})
        returning id, name, payload, attempts, max_attempts`.execute(this.#db)
      return rows.map(claimed)
    }
    // The claim's UPDATE may meet a completion's DELETE on an index page and end as InnoDB's
    // deadlock victim. The statement is rolled back whole (nothing was claimed), so claiming
    // again is safe; a lost race is not a failed claim.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#claimOnMariadb(request, due)
      } catch (error) {
        if (attempt >= CLAIM_ATTEMPTS || !isDeadlock(error)) throw error
      }
    }
  }

  /** PostgreSQL's claim (see `#pgClaim`), carrying `reads`. */
  async #claimOnPostgres(
    request: ClaimRequest,
    reads: ReadonlyMap<string, ClaimRead> | undefined,
  ): Promise<ClaimedJob[]> {
    const { worker, names, limit, leaseMs } = request
    const claim = this.#pgClaim(names, reads)
    const nowMs = this.#clock.simulatedMs()
    const parameters = claim.parameters.map((value) =>
      value === NOW
        ? nowMs
        : value === WORKER
          ? worker
          : value === LIMIT
            ? limit
            : value === LEASE
              ? leaseMs
              : value,
    )
    const { rows } = await executePrepared<JobRow>(this.#db, {
      compile: () => ({ ...claim, parameters }),
    })
    // A whole batch means a backlog: without statistics every claim would sort all of it.
    if (rows.length === limit) this.#upkeep.countBacklog(rows.length)
    return rows.map(claimed)
  }

  /**
   * MariaDB has no `UPDATE … RETURNING`: one UPDATE takes the rows and marks them with a token
   * of this claim, by which they are read back; they stay locked for that statement only, not
   * across round trips. It runs on the background pool, read committed, so it takes no gap
   * locks and enqueues never wait for a claim.
   *
   * Claims take turns at scanning, under a named lock the UPDATE takes and gives back itself:
   * scans at once all start at the head of the one due index and skip each other's locked rows,
   * and past a few claimers the server spends more on that than on the jobs (24 workers ran at
   * 0.5-0.7 of 10). The one-row derived table `turn` is read while the statement is planned,
   * before the scan; the first row written gives the turn back (in `progress`, null either way),
   * after the scan, so no round trip is made under the lock. A claim that takes no row, or
   * fails, gives it back itself.
   */
  #claimOnMariadb(request: ClaimRequest, due: RawBuilder<unknown>): Promise<ClaimedJob[]> {
    const { worker, limit, leaseMs } = request
    const token = randomBytes(8).toString('hex')
    return this.#database.background.connection().execute(async (connection) => {
      let taken: QueryResult<unknown>
      try {
        // Never taken twice: MariaDB counts a session's acquisitions of a named lock, and one
        // release would then leave it held.
        taken = await sql`update (
            select if(is_used_lock(${TURN}) <=> connection_id(), 1, get_lock(${TURN}, ${TURN_WAIT_S})) as got
          ) as turn join mortar_job as j join (
            select id from mortar_job where ${due} order by run_at, id limit ${limit} for update skip locked
          ) as next on j.id = next.id
          set j.locked_by = ${worker}, j.claim_token = ${token}, j.run_at = (@mortar_lease_end := ${this.#clock.after(leaseMs)}), j.attempts = j.attempts + 1,
            j.progress = case when release_lock(${TURN}) then null end`.execute(connection)
      } catch (error) {
        // A connection that broke took its named locks with it; the claim's error is the news.
        await giveTurnBack(connection).catch(() => {})
        throw error
      }
      if (Number(taken.numAffectedRows ?? 0) === 0) {
        await giveTurnBack(connection)
        return []
      }
      // The lease end the claim wrote, by the server's clock: the session kept it (a second
      // reading of the clock would differ), and the due index finds the rows by it.
      const { rows } =
        await sql<JobRow>`select id, name, payload, attempts, max_attempts from mortar_job
          where dead_at is null and run_at = @mortar_lease_end and claim_token = ${token}`.execute(
          connection,
        )
      return rows.map(claimed)
    })
  }

  async renew(worker: string, ids: readonly string[], leaseMs: number): Promise<void> {
    for (const chunk of chunks(ids)) {
      await sql`update mortar_job set run_at = ${this.#clock.after(leaseMs)}
        where locked_by = ${worker} and ${this.#idIn(chunk)}`.execute(this.#db)
    }
  }

  async complete(worker: string, ids: readonly string[]): Promise<readonly string[]> {
    const done: string[] = []
    for (const chunk of chunks(ids)) done.push(...(await this.#delete(worker, chunk, this.#db)))
    return this.#counted(done)
  }

  /**
   * PostgreSQL deletes the jobs and makes the writes in one statement (each write a
   * data-modifying `WITH`), which fails as a whole unless every job was still held; then, as
   * on SQLite and MariaDB, one transaction deletes the held jobs and writes for those alone.
   */
  async completeAlongside(
    worker: string,
    ids: readonly string[],
    writes: (finished: readonly string[]) => readonly CompanionWrite[],
  ): Promise<readonly string[]> {
    if (this.#engine === 'postgres' && ids.length <= CHUNK) {
      const companions = writes(ids).map(
        (write, index) => sql`, ${sql.id(`mortar_companion_${index}`)} as (${write})`,
      )
      try {
        // A division by zero unless the DELETE took every job: the whole statement rolls back.
        await executePrepared(
          this.#db,
          sql`with mortar_done as (
            delete from mortar_job where locked_by = ${worker} and ${this.#idIn(ids)} returning id
          )${sql.join(companions, sql``)}
          select 1 / (case when count(*) = ${ids.length} then 1 else 0 end) as held
          from mortar_done`,
        )
        return this.#counted([...ids])
      } catch (error) {
        if (!isDivisionByZero(error)) throw error
      }
    }
    const done = await queueTransaction(this.#database, async (db) => {
      const finished: string[] = []
      for (const chunk of chunks(ids)) finished.push(...(await this.#delete(worker, chunk, db)))
      if (finished.length > 0) {
        // Their nodes, not write.execute(): a builder runs where it was made, maybe the pool.
        for (const write of writes(finished)) await sql`${write}`.execute(db)
      }
      return finished
    })
    return this.#counted(done)
  }

  async #delete(worker: string, ids: readonly string[], db: Kysely<unknown>): Promise<string[]> {
    const { rows } = await executePrepared(
      db,
      sql<{ id: string }>`delete from mortar_job
      where locked_by = ${worker} and ${this.#idIn(ids)} returning id`,
    )
    return rows.map((row) => String(row.id))
  }

  /** Counts finished jobs; on PostgreSQL, every so many, vacuums the table. */
  #counted(done: string[]): string[] {
    this.#upkeep.count(done.length)
    return done
  }

  async fail(
    worker: string,
    id: string,
    error: AttemptError,
    outcome: FailOutcome,
  ): Promise<boolean> {
    const errors = this.#append(errorLine(error))
    const set =
      'dead' in outcome
        ? sql`dead_at = ${this.#clock.now()}`
        : sql`run_at = ${this.#clock.after(outcome.retryInMs)}, progress = null`
    const result = await sql`update mortar_job set locked_by = null, ${set}, errors = ${errors}
      where id = ${this.#id(id)} and locked_by = ${worker}`.execute(this.#db)
    return Number(result.numAffectedRows ?? 0) > 0
  }

  async release(worker: string, ids: readonly string[], _workerNowMs?: number): Promise<void> {
    for (const chunk of chunks(ids)) {
      await sql`update mortar_job set locked_by = null, run_at = ${this.#clock.now()}, attempts = attempts - 1, progress = null
        where locked_by = ${worker} and ${this.#idIn(chunk)}`.execute(this.#db)
    }
  }

  async progress(worker: string, id: string, progress: JsonValue): Promise<boolean> {
    const result = await sql`update mortar_job set progress = ${JSON.stringify(progress)}
      where id = ${this.#id(id)} and locked_by = ${worker}`.execute(this.#db)
    return Number(result.numAffectedRows ?? 0) > 0
  }

  async counts(_workerNowMs?: number): Promise<readonly JobCount[]> {
    const { rows } = await sql<{
      name: string
      dead: unknown
      locked: unknown
      later: unknown
      count: string | number
    }>`select name, case when dead_at is null then 0 else 1 end as dead,
        case when locked_by is null then 0 else 1 end as locked,
        case when run_at > ${this.#clock.now()} then 1 else 0 end as later, count(*) as count
      from mortar_job group by name, dead, locked, later`.execute(this.#db)
    const counts = new Map<string, JobCount>()
    for (const row of rows) {
      const state = jobState(
        {
          deadAtMs: Number(row.dead) === 1 ? 0 : null,
          worker: Number(row.locked) === 1 ? '' : null,
          runAtMs: Number(row.later) === 1 ? 1 : 0,
        },
        0,
      )
      const key = `${row.name}\n${state}`
      counts.set(key, {
        name: row.name,
        state,
        count: (counts.get(key)?.count ?? 0) + Number(row.count),
      })
    }
    return [...counts.values()]
  }

  async list(request: ListRequest): Promise<readonly JobInfo[]> {
    const conditions: RawBuilder<unknown>[] = []
    if (request.state !== undefined)
      conditions.push(stateCondition(request.state, this.#clock.now()))
    if (request.name !== undefined) conditions.push(sql`name = ${request.name}`)
    const where = conditions.length === 0 ? sql`` : sql`where ${sql.join(conditions, sql` and `)}`
    const { rows } = await sql<JobRow & NowColumn>`select *, ${this.#clock.now()} as mortar_now
      from mortar_job ${where} order by id limit ${request.limit}`.execute(this.#db)
    return rows.map((row) => info(row, Number(row.mortar_now)))
  }

  async get(id: string, _workerNowMs?: number): Promise<JobInfo | undefined> {
    if (!/^\d{1,19}$/.test(id)) return undefined
    const { rows } = await sql<JobRow & NowColumn>`select *, ${this.#clock.now()} as mortar_now
      from mortar_job where id = ${this.#id(id)}`.execute(this.#db)
    const row = rows[0]
    return row === undefined ? undefined : info(row, Number(row.mortar_now))
  }

  async retry(ids: readonly string[] | 'all', _workerNowMs?: number): Promise<number> {
    if (ids === 'all') return this.#retry(sql``)
    // A chunk of ids per statement: a list of any length fits every engine's bind limits.
    let retried = 0
    for (const chunk of chunks(ids.filter((id) => /^\d{1,19}$/.test(id)))) {
      retried += await this.#retry(sql`and ${this.#idIn(chunk)}`)
    }
    return retried
  }

  /** Retries the dead jobs `which` selects (all when it is empty). */
  async #retry(which: RawBuilder<unknown>): Promise<number> {
    const revive = sql`dead_at = null, locked_by = null, attempts = 0, progress = null, run_at = ${this.#clock.now()}`
    let retried = Number(
      (
        await sql`update mortar_job set ${revive} where dead_at is not null and dedup_key is null ${which}`.execute(
          this.#db,
        )
      ).numAffectedRows ?? 0,
    )
    // A keyed job comes back only while no live job holds its key: one at a time, a clash
    // skipped. Read a page at a time by id, so a dead set of any size fits in memory.
    let after: RawBuilder<unknown> = sql``
    for (;;) {
      const { rows } = await sql<{ id: string | number }>`select id from mortar_job
        where dead_at is not null and dedup_key is not null ${which} ${after}
        order by id limit ${CHUNK}`.execute(this.#db)
      for (const row of rows) {
        try {
          const result =
            await sql`update mortar_job set ${revive} where id = ${row.id} and dead_at is not null`.execute(
              this.#db,
            )
          retried += Number(result.numAffectedRows ?? 0)
        } catch (error) {
          if (!isUniqueViolation(error)) throw error
        }
      }
      const last = rows.at(-1)
      if (rows.length < CHUNK || last === undefined) return retried
      after = sql`and id > ${last.id}`
    }
  }

  async purge(
    states: readonly ('dead' | 'pending' | 'scheduled')[],
    _workerNowMs?: number,
  ): Promise<number> {
    if (states.length === 0) return 0
    const now = this.#clock.now()
    const conditions = states.map((state) => sql`(${stateCondition(state, now)})`)
    const result =
      await sql`delete from mortar_job where ${sql.join(conditions, sql` or `)}`.execute(this.#db)
    return Number(result.numAffectedRows ?? 0)
  }

  async announce(): Promise<void> {
    if (this.#engine !== 'postgres') return
    // After the commit and on a pool connection of our own: a NOTIFY inside the caller's
    // transaction would serialize every committing transaction on PostgreSQL's notify lock.
    // Its own commit does not wait for the disk: a lost notice only leaves the wake-up to a poll.
    await sql`select set_config('synchronous_commit', 'off', true), pg_notify(${CHANNEL}, ${await this.#currentSchema()})`.execute(
      this.#database.root,
    )
  }

  async subscribe(onJobs: () => void): Promise<() => Promise<void>> {
    if (this.#engine !== 'postgres' || this.#listenUrl === undefined) return async () => {}
    const schema = await this.#currentSchema()
    const listener = new PostgresListener({
      url: this.#listenUrl,
      channel: CHANNEL,
      // Apps in other schemas of the same database share the channel: only ours wake us.
      onNotify: (payload) => {
        if (payload === schema) onJobs()
      },
      onError: (error) =>
        this.#logger.warn(
          { err: error },
          'The job listener lost PostgreSQL; reconnecting, polling meanwhile',
        ),
    })
    await listener.start()
    return () => listener.stop()
  }

  #currentSchema(): Promise<string> {
    this.#schema ??= sql<{ schema: string }>`select current_schema() as schema`
      .execute(this.#database.root)
      .then(({ rows }) => rows[0]?.schema ?? 'public')
    return this.#schema
  }

  /** An id as the engine compares it best: SQLite matches integers only with integers. */
  #id(id: string): string | number {
    return this.#engine === 'sqlite' ? Number(id) : id
  }

  /**
   * On PostgreSQL the ids are one array, so a statement's text is the same however many there
   * are and it can run prepared (the claims and completions of every batch share one plan).
   */
  #idIn(ids: readonly string[]): RawBuilder<unknown> {
    if (this.#engine === 'postgres') return sql`id = any(${ids}::bigint[])`
    return sql`id in (${sql.join(ids.map((id) => this.#id(id)))})`
  }

  /** The job's errors with `line` appended, the newest MAX_ERRORS_CHARS kept. */
  #append(line: string): RawBuilder<unknown> {
    const max = sql.lit(MAX_ERRORS_CHARS)
    switch (this.#engine) {
      case 'mysql':
        return sql`right(concat(coalesce(errors, ''), ${line}), ${max})`
      case 'postgres':
        return sql`right(coalesce(errors, '') || ${line}, ${max})`
      default:
        return sql`substr(coalesce(errors, '') || ${line}, -${max})`
    }
  }
}

// The values of PostgreSQL's claim, as its text is compiled once (see `#pgClaim`): slots that
// each claim fills in.
const NOW = Symbol('now')
const WORKER = Symbol('worker')
const LIMIT = Symbol('limit')
const LEASE = Symbol('lease')

/** The jobs a claim may take: due, of these names, not leased in this worker's name. */
function dueJobs(names: readonly string[], nowMs: unknown, worker: unknown): RawBuilder<unknown> {
  return sql`dead_at is null and run_at <= ${nowMs} and (locked_by is null or locked_by <> ${worker}) and name in (${sql.join(names)})`
}

/**
 * The bytes a job's row adds to an INSERT: exact for a large one, a bound for a small one (see
 * {@link SIZED_BY_BOUND}). `escaped`: its text is written escaped into the statement (mysql2
 * escapes \0, \b, \t, \n, \r, \x1a, quotes and backslashes with a backslash each).
 */
function jobBytes(job: NewJob, escaped: boolean): number {
  const units = job.payload.length + job.name.length + (job.key?.length ?? 0)
  const bound = units * (escaped ? 6 : 3) + ROW_BYTES
  if (bound <= SIZED_BY_BOUND) return bound
  let bytes = ROW_BYTES
  for (const text of [job.payload, job.name, job.key ?? '']) {
    bytes += Buffer.byteLength(text)
    if (escaped) bytes += text.length - text.replace(ESCAPED, '').length
  }
  return bytes
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters mysql2 escapes, ^Z among them
const ESCAPED = /[\0\b\t\n\r\x1a"'\\]/g

function chunks(ids: readonly string[]): string[][] {
  const out: string[][] = []
  for (let start = 0; start < ids.length; start += CHUNK) out.push(ids.slice(start, start + CHUNK))
  return out
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}

function claimed(row: JobRow): ClaimedJob {
  // Not carried (prepare reads with the driver's types) rather than rounded.
  // One object either way: a copy with the carried value added was garbage a job.
  const carried =
    row.carried === undefined || row.carried === UNCARRIED ? undefined : exactJson(row.carried)
  const id = String(row.id)
  const attempt = Number(row.attempts)
  const maxAttempts = Number(row.max_attempts)
  return carried === undefined
    ? { id, name: row.name, payload: row.payload, attempt, maxAttempts }
    : { id, name: row.name, payload: row.payload, attempt, maxAttempts, carried }
}

/**
 * PostgreSQL: each claimed job's carried read, by its name (the first row of its read as JSON,
 * keyed by its payload's field), read in the claim's own statement. The reads see the database
 * as the claim does, at its start. `row_to_json`: 1 µs a job less of the server than `to_jsonb`.
 */
function carriedReads(reads: ReadonlyMap<string, ClaimRead>): RawBuilder<unknown> {
  const cases = [...reads].map(([name, read]) => {
    const key = sql<string>`(payload::json ->> ${read.key})`
    return sql`when ${name} then (select row_to_json(r)::text from (${read.select(key)}) as r limit 1)`
  })
  // PostgreSQL's JSON functions refuse a document that holds U+0000 or a lone surrogate, which
  // JSON.stringify writes escaped (`\u0000`, `\ud800`) from any string a schema took: read, the
  // payload failed the whole claim, every time, and the worker ran nothing. Such a job is not
  // carried (its prepare reads), as is one holding any escape of those forms, which costs no more.
  return sql`case when strpos(payload, ${'\\'}) > 0 and payload ~ ${UNREADABLE_ESCAPE} then ${UNCARRIED}
    else case name ${sql.join(cases, sql` `)} end end`
}

// A JSON escape of U+0000 or of a surrogate, as a PostgreSQL regular expression.
const UNREADABLE_ESCAPE = '\\\\u(0000|[dD][89a-fA-F])'
// What a claim carries for a job whose read it could not make: no row's JSON is empty.
const UNCARRIED = ''

function stateCondition(state: JobState, nowMs: RawBuilder<number>): RawBuilder<unknown> {
  switch (state) {
    case 'dead':
      return sql`dead_at is not null`
    case 'running':
      return sql`dead_at is null and locked_by is not null and run_at > ${nowMs}`
    case 'stalled':
      return sql`dead_at is null and locked_by is not null and run_at <= ${nowMs}`
    case 'scheduled':
      return sql`dead_at is null and locked_by is null and run_at > ${nowMs}`
    case 'pending':
      return sql`dead_at is null and locked_by is null and run_at <= ${nowMs}`
  }
}

function info(row: JobRow, nowMs: number): JobInfo {
  const deadAtMs = row.dead_at === null ? null : Number(row.dead_at)
  const runAtMs = Number(row.run_at)
  return {
    id: String(row.id),
    name: row.name,
    state: jobState({ deadAtMs, worker: row.locked_by, runAtMs }, nowMs),
    payload: shownPayload(row.payload),
    key: row.dedup_key ?? undefined,
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    createdAt: new Date(Number(row.created_at)),
    runAt: new Date(runAtMs),
    deadAt: deadAtMs === null ? undefined : new Date(deadAtMs),
    worker: row.locked_by ?? undefined,
    progress: row.progress === null ? undefined : (JSON.parse(row.progress) as JsonValue),
    errors: parseErrors(row.errors),
  }
}

/** A unique-index violation on PostgreSQL (23505), SQLite or MariaDB (1062). */
export function isUniqueViolation(error: unknown): boolean {
  const fields = error as { code?: unknown; errno?: unknown; message?: unknown } | null
  return (
    fields?.code === '23505' ||
    fields?.code === 'ER_DUP_ENTRY' ||
    fields?.errno === 1062 ||
    (typeof fields?.message === 'string' && fields.message.includes('UNIQUE constraint failed'))
  )
}

/** PostgreSQL's data exception (SQLSTATE class 22), as the driver reports it or wrapped. */
function isDataException(error: unknown): boolean {
  if (error instanceof DatabaseInputError) return true
  const fields = error as { code?: unknown; cause?: { code?: unknown } } | null
  const code = fields?.code ?? fields?.cause?.code
  return typeof code === 'string' && code.startsWith('22')
}

/** PostgreSQL's division by zero, as the driver reports it or wrapped as a bad-input error. */
function isDivisionByZero(error: unknown): boolean {
  const fields = error as { code?: unknown; cause?: { code?: unknown } } | null
  return fields?.code === DIVISION_BY_ZERO || fields?.cause?.code === DIVISION_BY_ZERO
}

/**
 * A companion write compiled for `db`: by itself when it can (a write of a fixed shape keeps its
 * text, the same string each call, so the pipelined INSERT's lookup by it does not hash a new
 * one), else its node by `db`'s compiler.
 */
function compiledWrite(write: CompanionWrite, db: Kysely<unknown>): CompiledQuery {
  return write.compile === undefined ? sql`${write}`.compile(db) : write.compile()
}

// Column values a pipelined job row binds, in pipelinedInsert's order.
const PIPELINED_COLUMNS = 6
// Pipelined INSERTs by shape: companion text (or '') and number of jobs, apart for rows with
// a relay token (BullMQ's outbox) so that the key is the companion's own text.
const pipelinedInserts = new Map<string, PipelinedInsert[]>()
const tokenPipelinedInserts = new Map<string, PipelinedInsert[]>()
// The same for jobs due after a delay from the server's now (the run time's value is the delay).
const delayedInserts = new Map<string, PipelinedInsert[]>()
const tokenDelayedInserts = new Map<string, PipelinedInsert[]>()
// Where run_at's value sits among a pipelined row's.
const RUN_AT_COLUMN = 3

interface PipelinedInsert {
  readonly text: string
  readonly node: RawNode
}

/**
 * The pipelined INSERT of `n` jobs (with no ON CONFLICT: with no key, only a clash of ids could
 * conflict, and that must fail loudly), after `companion` as a data-modifying `WITH` whose
 * parameters come first. The same string for the same shape, so the server keeps one prepared
 * plan of it and naming it (see pipelineWrite) hashes it once.
 */
function pipelinedInsert(
  n: number,
  companion: CompiledQuery | undefined,
  tokens: boolean,
  serverNow: string | undefined,
): PipelinedInsert {
  const companionText = companion?.sql ?? ''
  const shapes =
    serverNow === undefined
      ? tokens
        ? tokenPipelinedInserts
        : pipelinedInserts
      : tokens
        ? tokenDelayedInserts
        : delayedInserts
  let byCount = shapes.get(companionText)
  if (byCount === undefined) {
    byCount = []
    // Past the limit a new shape is built on every call, as statements past core's limit of
    // prepared names go unnamed (see pipelineWrite).
    if (shapes.size < MAX_PIPELINED_SHAPES) shapes.set(companionText, byCount)
  }
  let insert = byCount[n]
  if (insert === undefined) {
    let next = companion?.parameters.length ?? 0
    const columns = PIPELINED_COLUMNS + (tokens ? 1 : 0)
    const rows = Array.from({ length: n }, () => {
      const row = Array.from({ length: columns }, (_, i) =>
        i === RUN_AT_COLUMN && serverNow !== undefined
          ? `${serverNow} + $${next + i + 1}::bigint`
          : `$${next + i + 1}`,
      )
      next += columns
      return `(${row.join(', ')})`
    })
    const text = `${companion === undefined ? '' : `with mortar_companion as (${companionText}) `}insert into mortar_job (id, name, payload, run_at, max_attempts, created_at${tokens ? ', relay_token' : ''}) overriding system value values ${rows.join(', ')}`
    insert = { text, node: RawNode.createWithSql(text) }
    byCount[n] = insert
  }
  return insert
}

/**
 * A row's values as one node that compiles to `($1, $2, …)`, cheaper to build and compile than
 * a node per value (what `sql` makes of each interpolation).
 */
function tuple(values: readonly unknown[]): OperationNodeSource {
  const node = PrimitiveValueListNode.create(values)
  return { toOperationNode: () => node }
}

/** Gives back a MariaDB claim's turn if this session still holds it (a no-op otherwise). */
async function giveTurnBack(connection: Kysely<unknown>): Promise<void> {
  await sql`do release_lock(${TURN})`.execute(connection)
}
