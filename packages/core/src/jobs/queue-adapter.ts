import type { Expression } from 'kysely'
import type { ModuleMigrations } from '../persistence/migrations/index.js'
import type { JsonValue } from './job-context.js'
import type { CompanionWrite } from './job-queue.js'
import type { ScheduleStore } from './schedules/schedule-store.js'

/**
 * Where a job is in its life:
 * - `pending`: due, waiting for a worker;
 * - `scheduled`: waiting for its time (a delay, `runAt`, or the backoff before a retry);
 * - `running`: held by a worker whose lease is current;
 * - `stalled`: held by a worker whose lease expired (it died, or lost the database): the next
 *   claim takes it again;
 * - `dead`: failed its last attempt or failed permanently; kept with every attempt's error
 *   until retried or purged.
 */
export type JobState = 'pending' | 'scheduled' | 'running' | 'stalled' | 'dead'

/** One failed attempt, as the queue keeps it. */
export interface AttemptError {
  readonly attempt: number
  /** When it failed (ISO 8601). */
  readonly at: string
  /** The error's class name (`TypeError`, `PermanentJobError`). */
  readonly name: string
  readonly message: string
  /** The error's `code`, when it has one. */
  readonly code?: string
}

/** A job as an adapter stores it: already validated and serialized. */
export interface NewJob {
  readonly name: string
  /** The payload as JSON. */
  readonly payload: string
  /**
   * When it is due, by the enqueuer's clock: for `runAt`, the instant asked for; for a delay,
   * the enqueuer's reading of it, which only an engine without a clock of its own may use.
   */
  readonly runAtMs: number
  /**
   * For a job due after a delay (0: at once): due this long after now by the engine's clock,
   * never by the enqueuer's (an enqueuer whose clock runs an hour ahead would hold it back an
   * hour).
   */
  readonly delayMs?: number
  readonly createdAtMs: number
  readonly maxAttempts: number
  /**
   * At most one live (not dead, not finished) job per key: a second enqueue is dropped. The
   * queue has already scoped it to the job's name.
   */
  readonly key: string | undefined
  /**
   * Kept in the row's `relay_token` when given: the BullMQ engine's outbox names each job in
   * Redis by its row id and this token, since a row id comes back after a restore or a reset.
   */
  readonly token?: string
}

/** A job a worker holds under a lease. */
export interface ClaimedJob {
  readonly id: string
  readonly name: string
  /** The payload as JSON. */
  readonly payload: string
  /** This attempt, from 1: the number of times the job was claimed, this time included. */
  readonly attempt: number
  readonly maxAttempts: number
  /**
   * What the claim read for it ({@link ClaimRequest.reads}): the row as JSON, or `null` when the
   * read found none. Absent where the adapter carries no read (its job's `prepare` reads then).
   */
  readonly carried?: unknown
  /**
   * The name its lease is held in, when not the claim's `worker`: a job the engine leased to
   * the worker earlier (BullMQ's fetch on completion, under the completing lease's name).
   */
  readonly lease?: string
}

/**
 * A read a claim may carry for each job of one name (a job definition's `claimRead`): the first
 * row of `select(key)` as JSON, `key` being the job's payload field `key` (a string).
 */
export interface ClaimRead {
  readonly key: string
  select(key: Expression<string>): Expression<unknown>
}

/** What a worker asks {@link QueueAdapter.claim} for. */
export interface ClaimRequest {
  /** The worker's id; the lease is held in this name. */
  readonly worker: string
  /** Only jobs of these names: a worker never takes a job it has no handler for. */
  readonly names: readonly string[]
  /** At most this many jobs, oldest due first. */
  readonly limit: number
  /**
   * The worker's reading of its clock. Only an engine that lives in the worker's own process
   * (the inline queue) may judge time by it; an engine shared by processes judges due times and
   * leases by its own clock (its server's), or a worker whose clock runs ahead would take jobs
   * other workers still hold.
   */
  readonly nowMs: number
  /** How long the lease lasts unless renewed, from the claim, by the engine's clock. */
  readonly leaseMs: number
  /**
   * Reads to carry, by job name: an adapter that can sets each such job's `carried`; one that
   * cannot leaves it out, and the job's `prepare` reads instead.
   */
  readonly reads?: ReadonlyMap<string, ClaimRead>
  /**
   * Aborted when the worker stops waiting for this claim: its lease passed unanswered, or the
   * worker stopped. An engine may then drop what the claim waits on (a connection that stopped
   * answering), so that the next claim starts afresh; the jobs of a late answer are given back.
   */
  readonly signal?: AbortSignal
}

/** What becomes of a failed attempt: a retry after a backoff (by the engine's clock), or death. */
export type FailOutcome = { readonly retryInMs: number } | { readonly dead: true }

/** A job as `status`, `list` and `get` show it. */
export interface JobInfo {
  readonly id: string
  readonly name: string
  readonly state: JobState
  /**
   * The payload as it was enqueued; a stored text that is not JSON (written by other code or
   * an older version) as that text, its job buried with `E_JOB_PAYLOAD` once claimed.
   */
  readonly payload: JsonValue
  readonly key: string | undefined
  /** Attempts made so far (the current one included while running). */
  readonly attempts: number
  readonly maxAttempts: number
  readonly createdAt: Date
  /** When it is due (pending, scheduled), or when its lease ends (running, stalled). */
  readonly runAt: Date
  readonly deadAt: Date | undefined
  /** The worker holding it (running, stalled). */
  readonly worker: string | undefined
  /** The last progress its handler reported in the current attempt. */
  readonly progress: JsonValue | undefined
  /** Every failed attempt's error, oldest first. */
  readonly errors: readonly AttemptError[]
}

/** How many jobs of one name are in one state. */
export interface JobCount {
  readonly name: string
  readonly state: JobState
  readonly count: number
}

/** A filter of {@link QueueAdapter.list}. */
export interface ListRequest {
  readonly state?: JobState
  readonly name?: string
  /** At most this many, by id. */
  readonly limit: number
  readonly nowMs: number
}

/**
 * A queue engine: where jobs are stored and how workers lease them. Mortar's workers, retries,
 * timeouts and schedules run on top of it, so an adapter only stores and leases. The SQL
 * queue, the BullMQ engine and the inline (in-memory) queue implement it; a plugin author's
 * RabbitMQ or SQS adapter does too, and proves it with `queueConformance` from
 * `@mortar/core/testing`.
 *
 * The rules every adapter keeps (the conformance kit checks each):
 * - One clock judges every due time and lease: the engine's own, for an engine shared by
 *   processes. The `nowMs` each call carries is the caller's reading of its clock, for an engine
 *   that lives in the caller's process; durations (`leaseMs`, `retryInMs`, `delayMs`) count
 *   from the engine's now. A worker whose clock is skewed never takes a job another holds, and
 *   never holds a job back or lets it run early.
 * - `enqueue` inside an open transaction of the app's database belongs to it: rolled back, the
 *   jobs never existed; committed, they will run.
 * - `claim` hands a job to one worker at a time; a job whose lease expired is claimable again
 *   (by another worker), and each claim counts an attempt.
 * - `complete`, `fail`, `renew`, `progress` and `release` act only on jobs the worker still
 *   holds: once another worker took a job over, the first one's calls do nothing to it.
 * - A key holds at most one live job; dead jobs do not hold their key.
 */
export interface QueueAdapter {
  /** The engine's name, as `JobQueue.engine` and `mortar jobs status` show it. */
  readonly engine: string
  /** Tables the adapter needs, applied by `app.migrate()` before the modules' own. */
  readonly migrations?: ModuleMigrations
  /**
   * Where schedules keep their next tick, shared by every process using this queue; its
   * `claim` must enqueue the tick atomically with moving the schedule on. Required for apps
   * that declare schedules.
   */
  readonly schedules?: ScheduleStore
  /** Adds jobs; returns each one's id, or `undefined` for one dropped as a duplicate key. */
  enqueue(jobs: readonly NewJob[]): Promise<readonly (string | undefined)[]>
  /**
   * Engines that can send a caller's write and the jobs in one statement: runs `write`, then
   * adds the jobs, as one unit, with `enqueue`'s answer. Without it, the queue runs `write`
   * through its own builder, then calls `enqueue`.
   */
  enqueueAlongside?(
    jobs: readonly NewJob[],
    write: CompanionWrite,
  ): Promise<readonly (string | undefined)[]>
  /** Leases up to `limit` due jobs of the given names to the worker. */
  claim(request: ClaimRequest): Promise<readonly ClaimedJob[]>
  /**
   * Extends the worker's leases on these jobs to `leaseMs` from now (one heartbeat for all of
   * them); `nowMs` as in {@link ClaimRequest.nowMs}.
   */
  renew(worker: string, ids: readonly string[], leaseMs: number, nowMs: number): Promise<void>
  /** Finishes jobs the worker holds; returns the ids it finished (the others were lost). */
  complete(worker: string, ids: readonly string[]): Promise<readonly string[]>
  /**
   * Engines that can make writes of the app's database with a completion: finishes jobs as
   * `complete` does and runs the writes `writes` builds (from handlers' `completeWith`) as one
   * unit with it. Engines whose jobs live in that database call `writes` with the ids they
   * finished, in the same transaction, so a job the worker no longer held writes nothing;
   * others write first, then complete. Without it, the worker runs the writes, then `complete`.
   */
  completeAlongside?(
    worker: string,
    ids: readonly string[],
    writes: (finished: readonly string[]) => readonly CompanionWrite[],
  ): Promise<readonly string[]>
  /**
   * Records a failed attempt and retries or buries the job; false when the lease was lost.
   * `nowMs` as in {@link ClaimRequest.nowMs}.
   */
  fail(
    worker: string,
    id: string,
    error: AttemptError,
    outcome: FailOutcome,
    nowMs: number,
  ): Promise<boolean>
  /** Gives jobs back unfinished (shutdown): due now, and the attempt does not count. */
  release(worker: string, ids: readonly string[], nowMs: number): Promise<void>
  /** Stores the handler's progress; false when the lease was lost. */
  progress(worker: string, id: string, progress: JsonValue): Promise<boolean>
  /** Counts by name and state. */
  counts(nowMs: number): Promise<readonly JobCount[]>
  /** Jobs by state and name, oldest first. */
  list(request: ListRequest): Promise<readonly JobInfo[]>
  get(id: string, nowMs: number): Promise<JobInfo | undefined>
  /** Makes dead jobs pending again with fresh attempts; `'all'` retries every dead job. */
  retry(ids: readonly string[] | 'all', nowMs: number): Promise<number>
  /** Deletes jobs in these states (never running ones); returns how many. */
  purge(states: readonly ('dead' | 'pending' | 'scheduled')[], nowMs: number): Promise<number>
  /**
   * Engines that can tell other processes about new jobs: called after each commit that
   * enqueued (debounced by the caller). Never inside the caller's transaction.
   */
  announce?(): Promise<void>
  /** Engines that can hear {@link QueueAdapter.announce} from other processes. */
  subscribe?(onJobs: () => void): Promise<() => Promise<void>>
  /** Releases what the adapter opened; the app's database is closed by the app. */
  close?(): Promise<void>
}
