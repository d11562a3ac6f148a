import { createHash } from 'node:crypto'
import type { z } from 'zod'
import type { Clock } from '../clock/clock.js'
import type { RequestScope } from '../context/request-context.js'
import { ValidationError } from '../errors/http-errors.js'
import type { Logger } from '../logger/logger.js'
import type { Database } from '../persistence/database/database.js'
import { afterCommit } from '../persistence/transactions/transaction.js'
import { safeText } from '../validation/safe-text.js'
import type { JobDefinition } from './define-job.js'
import { JobError } from './job-errors.js'
import type {
  DrainOptions,
  EnqueueItem,
  EnqueueManyOptions,
  EnqueueOptions,
  JobQueue,
  JobsStatus,
} from './job-queue.js'
import type { JobInfo, JobState, NewJob, QueueAdapter } from './queue-adapter.js'
import { useRunningQueue } from './running-queues.js'
import { serializePayload } from './serialize-payload.js'
import { Worker, type WorkerSettings } from './worker/worker.js'
import { describeOption, isNumberIn, MAX_TIMER_MS } from '../validation/number-in.js'

// The stored key is the job's scope (KEY_SCOPE characters) and the caller's key, in 191.
const KEY_SCOPE = 17
const MAX_KEY_LENGTH = 191 - KEY_SCOPE
const DEFAULT_LIST_LIMIT = 100
// list() holds every job it shows in memory (BullMQ reads them in one reply).
const MAX_LIST_LIMIT = 10_000
const DEFAULT_DRAIN_TIMEOUT_MS = 30_000
const UNKNOWN_CHECK_MS = 60_000
// Other processes hear of new jobs at most this often (local workers are woken at once): under
// a stream of commits, one NOTIFY per commit would cost each one a round trip of its own.
const ANNOUNCE_GAP_MS = 10

/** Something `drain()` runs first: the scheduler's due ticks. */
export interface DrainHook {
  runDue(): Promise<void>
}

/** What a {@link JobQueueService} is built from. */
export interface JobQueueServiceInit {
  readonly adapter: QueueAdapter
  /**
   * The database whose transactions an enqueue belongs to (the app's): its commit wakes the
   * workers. Without one, the innermost open transaction, as the inline queue joins it.
   */
  readonly database: Database | undefined
  readonly jobs: ReadonlyMap<string, JobDefinition>
  readonly clock: Clock
  readonly logger: Logger
  readonly createScope: () => RequestScope
  /** Settings of the worker (when this process runs one) and of `drain()`. */
  readonly worker: WorkerSettings
}

/**
 * The {@link JobQueue} behind `JOBS`: validates and enqueues through the adapter, wakes the
 * local worker after the enqueuing transaction commits and tells other processes; owns this
 * process's worker when it runs one.
 */
export class JobQueueService implements JobQueue {
  readonly #adapter: QueueAdapter
  readonly #database: Database | undefined
  readonly #jobs: ReadonlyMap<string, JobDefinition>
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #createScope: () => RequestScope
  readonly #settings: WorkerSettings
  #worker: Worker | undefined
  #drainHook: DrainHook | undefined
  #unsubscribe: (() => Promise<void>) | undefined
  #releaseRunning: (() => void) | undefined
  #unknownTimer: NodeJS.Timeout | undefined
  readonly #warnedUnknown = new Set<string>()
  #announcing = false
  #announceAgain = false
  #announceGap: NodeJS.Timeout | undefined
  readonly #committed = (): void => {
    this.#worker?.wake()
    this.#announce()
  }

  constructor(init: JobQueueServiceInit) {
    this.#adapter = init.adapter
    this.#database = init.database
    this.#jobs = init.jobs
    this.#clock = init.clock
    this.#logger = init.logger
    this.#createScope = init.createScope
    this.#settings = init.worker
  }

  get engine(): string {
    return this.#adapter.engine
  }

  /** The adapter, for the scheduler and the CLI. */
  get adapter(): QueueAdapter {
    return this.#adapter
  }

  /** The job definitions this app declares, by name. */
  get jobs(): ReadonlyMap<string, JobDefinition> {
    return this.#jobs
  }

  /** Lets `drain()` run the scheduler's due ticks first. */
  setDrainHook(hook: DrainHook): void {
    this.#drainHook = hook
  }

  /** Makes this the queue of `enqueue()`; with `workers`, starts this process's worker. */
  async start(workers: boolean): Promise<void> {
    this.#releaseRunning = useRunningQueue(this)
    if (!workers) return
    const worker = this.#ensureWorker()
    if (this.#adapter.subscribe) {
      this.#unsubscribe = await this.#adapter.subscribe(() => worker.wake())
    }
    worker.start()
    void this.#warnUnknownNames()
    this.#unknownTimer = setInterval(() => void this.#warnUnknownNames(), UNKNOWN_CHECK_MS)
    this.#unknownTimer.unref()
  }

  /**
   * Jobs whose name no module declares (rows written by older or newer code) stay pending,
   * never dropped: a deploy that brings the handler back runs them. Said once per name.
   */
  async #warnUnknownNames(): Promise<void> {
    let unknown: readonly string[]
    try {
      unknown = (await this.status()).unknownNames
    } catch {
      return // the claim loop reports an unreachable queue
    }
    for (const name of unknown) {
      if (this.#warnedUnknown.has(name)) continue
      this.#warnedUnknown.add(name)
      this.#logger.warn(
        { job: name },
        `Jobs named '${name}' are waiting but no module of this app declares them; they stay in the queue until code that declares '${name}' runs`,
      )
    }
  }

  /** Stops the worker (see `Worker.stop`) and stops being the queue of `enqueue()`. */
  async stop(graceMs: number): Promise<void> {
    this.#releaseRunning?.()
    this.#releaseRunning = undefined
    clearInterval(this.#unknownTimer)
    // A notice still waiting for its gap is dropped: other processes' polls find those jobs.
    clearTimeout(this.#announceGap)
    const unsubscribe = this.#unsubscribe
    this.#unsubscribe = undefined
    await unsubscribe?.().catch((error: unknown) => {
      this.#logger.warn({ err: error }, 'Closing the job notification listener failed')
    })
    await this.#worker?.stop(graceMs)
    await this.#adapter.close?.()
  }

  async enqueue<S extends z.ZodType>(
    job: JobDefinition<S>,
    payload: z.input<S>,
    options?: EnqueueOptions,
  ): Promise<string | undefined> {
    const row = this.#prepare(job as JobDefinition, payload, options, this.#clock.nowMs())
    const [id] = await this.#adapter.enqueue([row])
    this.#wakeAfterCommit()
    return id
  }

  async enqueueMany<S extends z.ZodType>(
    job: JobDefinition<S>,
    items: readonly EnqueueItem<S>[],
    options: EnqueueManyOptions = {},
  ): Promise<readonly (string | undefined)[]> {
    const { alongside } = options
    if (items.length === 0) {
      await alongside?.execute()
      return []
    }
    const nowMs = this.#clock.nowMs()
    const rows = items.map((item) =>
      this.#prepare(job as JobDefinition, item.payload, item.options, nowMs),
    )
    let ids: readonly (string | undefined)[]
    if (alongside === undefined) ids = await this.#adapter.enqueue(rows)
    else if (this.#adapter.enqueueAlongside) {
      ids = await this.#adapter.enqueueAlongside(rows, alongside)
    } else {
      await alongside.execute()
      ids = await this.#adapter.enqueue(rows)
    }
    this.#wakeAfterCommit()
    return ids
  }

  /**
   * Wakes the workers once the enqueue's own transaction commits: another database's, open
   * inside it, commits first (the jobs not yet visible) or rolls back (no wake-up at all), and
   * the jobs waited for the next poll.
   */
  #wakeAfterCommit(): void {
    void afterCommit(this.#committed, { database: this.#database })
  }

  async status(): Promise<JobsStatus> {
    const nowMs = this.#clock.nowMs()
    const [counts, running] = await Promise.all([
      this.#adapter.counts(nowMs),
      this.#adapter.list({ state: 'running', limit: DEFAULT_LIST_LIMIT, nowMs }).then(shownKeys),
    ])
    const unknownNames = [
      ...new Set(
        counts
          .filter((count) => count.state !== 'dead' && !this.#jobs.has(count.name))
          .map((count) => count.name),
      ),
    ]
    return { engine: this.engine, counts, running, unknownNames }
  }

  list(
    options: { readonly state?: JobState; readonly name?: string; readonly limit?: number } = {},
  ): Promise<readonly JobInfo[]> {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT
    // A NaN or a string reached the driver as the SQL limit; a fraction or 0 listed nothing.
    if (!isNumberIn(limit, 1, MAX_LIST_LIMIT, true)) {
      return Promise.reject(
        invalidOption('jobs.list()', 'limit', `a whole number from 1 to ${MAX_LIST_LIMIT}`),
      )
    }
    return this.#adapter
      .list({
        ...options,
        limit,
        nowMs: this.#clock.nowMs(),
      })
      .then(shownKeys)
  }

  async get(id: string): Promise<JobInfo | undefined> {
    const job = await this.#adapter.get(id, this.#clock.nowMs())
    return job && shownKey(job)
  }

  async retry(ids: string | readonly string[] | 'all'): Promise<number> {
    const list = ids === 'all' ? 'all' : typeof ids === 'string' ? [ids] : ids
    const retried = await this.#adapter.retry(list, this.#clock.nowMs())
    if (typeof ids === 'string' && ids !== 'all' && retried === 0) {
      throw new JobError(
        'E_JOB_NOT_FOUND',
        `No dead job has id ${ids}: list them with status() or \`mortar jobs dead\`.`,
      )
    }
    if (retried > 0) this.#committed()
    return retried
  }

  purge(states: readonly ('dead' | 'pending' | 'scheduled')[] = ['dead']): Promise<number> {
    return this.#adapter.purge(states, this.#clock.nowMs())
  }

  async drain(options: DrainOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS
    if (!isNumberIn(timeoutMs, 0, MAX_TIMER_MS)) {
      throw new TypeError(
        `drain() needs timeoutMs from 0 to ${MAX_TIMER_MS} ms; got ${describeOption(options.timeoutMs)}.`,
      )
    }
    await this.#drainHook?.runDue()
    await this.#ensureWorker().drain(timeoutMs)
  }

  #ensureWorker(): Worker {
    this.#worker ??= new Worker({
      ...this.#settings,
      adapter: this.#adapter,
      jobs: this.#jobs,
      clock: this.#clock,
      logger: this.#logger,
      createScope: this.#createScope,
    })
    return this.#worker
  }

  #prepare(
    job: JobDefinition,
    payload: unknown,
    options: EnqueueOptions | undefined,
    nowMs: number,
  ): NewJob {
    const declared = this.#jobs.get(job?.name)
    if (declared === undefined) {
      throw new JobError(
        'E_JOB_UNDECLARED',
        `No module of this app declares the job '${job?.name}', so no worker would run it: add it to a module's \`jobs\`.`,
      )
    }
    return {
      name: job.name,
      payload: serializePayload(declared, payload),
      runAtMs: runAt(job.name, options, nowMs),
      ...(options?.runAt === undefined ? { delayMs: Math.round(options?.delay ?? 0) } : {}),
      createdAtMs: nowMs,
      maxAttempts: declared.attempts,
      key: dedupKey(job.name, options?.key),
    }
  }

  #announce(): void {
    const announce = this.#adapter.announce
    if (announce === undefined) return
    if (this.#announcing) {
      this.#announceAgain = true
      return
    }
    this.#announcing = true
    announce
      .call(this.#adapter)
      .catch((error: unknown) => {
        this.#logger.warn(
          { err: error },
          'Telling other processes about new jobs failed; they find them by polling',
        )
      })
      .finally(() => {
        // The first commit of a burst is told at once; those during the gap, together after it.
        this.#announceGap = setTimeout(() => {
          this.#announceGap = undefined
          this.#announcing = false
          if (this.#announceAgain) {
            this.#announceAgain = false
            this.#announce()
          }
        }, ANNOUNCE_GAP_MS)
        this.#announceGap.unref()
      })
  }
}

const MAX_DATE_MS = 8_640_000_000_000_000

function runAt(name: string, options: EnqueueOptions | undefined, nowMs: number): number {
  if (options?.delay !== undefined) {
    // The instant must be one a Date holds: past it PostgreSQL's bigint refuses the row inside
    // the caller's transaction and SQLite stores a float no claim reaches.
    const ms = nowMs + Math.round(options.delay)
    if (!isNumberIn(options.delay, 0, MAX_DATE_MS - nowMs)) {
      throw invalidOption(
        `Enqueueing job '${name}'`,
        'delay',
        `a number of ms from 0 to ${MAX_DATE_MS - nowMs}`,
      )
    }
    return ms
  }
  if (options?.runAt !== undefined) {
    const ms = options.runAt instanceof Date ? options.runAt.getTime() : Number.NaN
    if (!Number.isFinite(ms))
      throw invalidOption(`Enqueueing job '${name}'`, 'runAt', 'a valid Date')
    return ms
  }
  return nowMs
}

/**
 * The key as adapters store it: scoped to the job, so the same key on two jobs (`order:1` for
 * the receipt and for the invoice) never drops one of them, on any engine.
 */
function dedupKey(name: string, key: string | undefined): string | undefined {
  if (key === undefined) return undefined
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > MAX_KEY_LENGTH ||
    !storableKey.safeParse(key).success
  ) {
    throw invalidOption(
      `Enqueueing job '${name}'`,
      'key',
      `a non-empty string of at most ${MAX_KEY_LENGTH} characters, without NUL or a lone surrogate`,
    )
  }
  return `${keyScope(name)}${key}`
}

// Stored as given on every engine: a NUL fails on PostgreSQL, and a lone surrogate becomes U+FFFD
// on the way to any of them, so two different keys would drop one job as the other's duplicate.
const storableKey = safeText({ max: MAX_KEY_LENGTH })

const scopes = new Map<string, string>()

/** A fixed-length prefix per job name: 16 characters of its hash and a colon. */
function keyScope(name: string): string {
  let scope = scopes.get(name)
  if (scope === undefined) {
    scope = `${createHash('sha256')
      .update(name)
      .digest('base64url')
      .slice(0, KEY_SCOPE - 1)}:`
    scopes.set(name, scope)
  }
  return scope
}

/** A listed job with its key as the caller gave it. */
function shownKey(job: JobInfo): JobInfo {
  const scope = keyScope(job.name)
  return job.key?.startsWith(scope) ? { ...job, key: job.key.slice(scope.length) } : job
}

function shownKeys(jobs: readonly JobInfo[]): readonly JobInfo[] {
  return jobs.map(shownKey)
}

/** `call`: what was refused (`jobs.list()`, `Enqueueing job 'mail'`). */
function invalidOption(call: string, option: string, expected: string): ValidationError {
  return new ValidationError(
    [{ path: option, message: `expected ${expected}`, code: 'invalid_option' }],
    `${call}: ${option} must be ${expected}.`,
  )
}
