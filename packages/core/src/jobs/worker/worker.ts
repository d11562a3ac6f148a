import { AsyncResource } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { Clock } from '../../clock/clock.js'
import {
  RequestContext,
  type RequestScope,
  runInRequestContext,
} from '../../context/request-context.js'
import { isMortarError } from '../../errors/mortar-error.js'
import type { Logger } from '../../logger/logger.js'
import { backoffDelay } from '../backoff.js'
import type { JobDefinition } from '../define-job.js'
import type { JsonValue } from '../job-context.js'
import { censorText } from '../../logger/censor-text.js'
import { thrownText } from '../../errors/thrown-text.js'
import { isPermanentJobError, JobError, retryLaterDelay } from '../job-errors.js'
import type { CompanionWrite, CompletionWrite } from '../job-queue.js'
import type {
  AttemptError,
  ClaimedJob,
  ClaimRead,
  FailOutcome,
  QueueAdapter,
} from '../queue-adapter.js'
import {
  type CompletionEntry,
  JobExecution,
  PreparedBatch,
  type PreparedValue,
} from './job-execution.js'

/** How a worker runs: its share of the machine and its timings. */
export interface WorkerSettings {
  /** Handlers running at once (default 10). */
  readonly concurrency: number
  /**
   * Jobs claimed per statement (default 50), held in a local buffer until a slot frees; the
   * worker claims again when fewer than half of that wait, so it holds at most 1.5 times as many.
   */
  readonly batchSize: number
  /** How long a claim holds a job without a heartbeat, in ms (default 30,000). */
  readonly leaseMs: number
  /** How often an idle worker looks for due jobs, in ms (default 1,000). */
  readonly pollMs: number
}

export const DEFAULT_WORKER_SETTINGS: WorkerSettings = {
  concurrency: 10,
  batchSize: 50,
  leaseMs: 30_000,
  pollMs: 1_000,
}

/** What a {@link Worker} is built from. */
export interface WorkerInit extends WorkerSettings {
  readonly adapter: QueueAdapter
  readonly jobs: ReadonlyMap<string, JobDefinition>
  readonly clock: Clock
  readonly logger: Logger
  readonly createScope: () => RequestScope
}

const FLUSH_RETRY_MS = 1_000
const SHUTDOWN_GRACE_MS = 100

/**
 * Runs jobs from a queue adapter: claims them in batches into a local buffer, runs up to
 * `concurrency` handlers at once, finishes them in batches, renews every lease it holds with
 * one heartbeat, retries failures with backoff and gives unfinished jobs back on stop.
 */
export class Worker {
  /**
   * The name the next claim takes its leases in, unique per process and start. A claim that
   * failed may still have committed (the connection dropped before its answer): those jobs are
   * leased to a name this worker no longer claims in, so once their lease passes, its next
   * claims (in a new name) or another worker's take them, instead of no one.
   */
  #claimer = workerName()
  /** The name each job this worker has was claimed in: its leases are held in that name. */
  readonly #holders = new Map<string, string>()
  readonly logger: Logger
  readonly createScope: () => RequestScope
  readonly #adapter: QueueAdapter
  readonly #jobs: ReadonlyMap<string, JobDefinition>
  readonly #names: readonly string[]
  /** The reads claims carry, by the name of the job whose definition has one. */
  readonly #reads: ReadonlyMap<string, ClaimRead>
  readonly #clock: Clock
  readonly #settings: WorkerSettings
  readonly #buffer: ClaimedJob[] = []
  /**
   * The attempts running, by attempt, not by job id: a worker can hold two attempts of one job
   * (its lease expired in an outage and its next claim took the job again, or a retry due at
   * once was claimed while its failure was recorded). Keyed by id, the first to end removed
   * the other's entry or, skipping that, left its own for good: four such and no slot ever
   * freed (the MariaDB outage test's stall).
   */
  readonly #running = new Map<ClaimedJob, { execution: JobExecution; done: Promise<void> }>()
  /**
   * Claimed jobs whose definition has `prepare`: the parsed payload and the value being read
   * for it, kept until the job starts or is given back.
   */
  readonly #prepared = new Map<string, { payload: unknown } & PreparedValue>()
  /** The logger each definition's `prepare` is given, made once. */
  readonly #prepareLoggers = new Map<JobDefinition, Logger>()
  #completed: string[] = []
  /** What the handlers of completed jobs gave `completeWith`, kept until the completion is written. */
  readonly #completions = new Map<
    string,
    { job: ClaimedJob; definition: JobDefinition; entries: readonly CompletionEntry[] }
  >()
  /**
   * Failed attempts the queue could not record (the database was unreachable), retried until
   * it takes them: no other worker takes over a lease of this worker's, so a job whose result
   * is never written would wait for the next start of its process.
   */
  #unrecorded: Array<{
    job: ClaimedJob
    error: AttemptError
    outcome: FailOutcome
    /** A death its definition's `onDead` has yet to hear of: recorded only once it has. */
    untold: boolean
  }> = []
  #recordTimer: NodeJS.Timeout | undefined
  #flushScheduled = false
  #flushing: Promise<void> | undefined
  #claiming = false
  /** The claim in flight and what gives up on it (its deadline, a stop). */
  #inFlight: { readonly done: Promise<void>; readonly abort: AbortController } | undefined
  #again = false
  #lastClaimEmpty = false
  #active = false
  #draining = 0
  #idleWaiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = []
  #pollTimer: NodeJS.Timeout | undefined
  #heartbeatTimer: NodeJS.Timeout | undefined
  #claimFailures = 0
  /** Runs a fill outside the caller's async context (a request's, a transaction's). */
  readonly #fillDetached: () => void

  constructor(init: WorkerInit) {
    this.#adapter = init.adapter
    this.#jobs = init.jobs
    this.#names = [...init.jobs.keys()]
    this.#reads = new Map(
      [...init.jobs].flatMap(([name, definition]) =>
        definition.claimRead === undefined ? [] : [[name, definition.claimRead] as const],
      ),
    )
    this.#clock = init.clock
    this.logger = init.logger
    this.createScope = init.createScope
    this.#settings = {
      concurrency: init.concurrency,
      batchSize: init.batchSize,
      leaseMs: init.leaseMs,
      pollMs: init.pollMs,
    }
    this.#fillDetached = AsyncResource.bind(() => this.#fill())
  }

  /** True between {@link Worker.start} and {@link Worker.stop}. */
  get active(): boolean {
    return this.#active
  }

  /** Starts polling and the heartbeat, and claims at once. */
  start(): void {
    if (this.#active || this.#names.length === 0) return
    this.#active = true
    this.#pollTimer = setInterval(this.#fillDetached, this.#settings.pollMs)
    this.#pollTimer.unref()
    this.#startHeartbeat()
    this.#fillDetached()
  }

  /** Looks for jobs now: called after a commit that enqueued, and on a notice from elsewhere. */
  wake(): void {
    if (this.#active || this.#draining > 0) this.#fillDetached()
  }

  /**
   * Runs every due job until a claim finds none and nothing runs; works whether or not the
   * worker was started.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#draining += 1
    if (this.#draining === 1 && !this.#active) this.#startHeartbeat()
    let timer: NodeJS.Timeout | undefined
    try {
      const idle = new Promise<void>((resolve, reject) => {
        this.#lastClaimEmpty = false
        this.#idleWaiters.push({ resolve, reject })
      })
      this.#fillDetached()
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new JobError(
                'E_JOBS_NOT_RUNNING',
                `drain() gave up after ${timeoutMs} ms with jobs still running or due.`,
              ),
            ),
          timeoutMs,
        )
      })
      await Promise.race([idle, timeout])
    } finally {
      clearTimeout(timer)
      this.#draining -= 1
      if (this.#draining === 0 && !this.#active) this.#stopHeartbeat()
    }
  }

  /**
   * Stops claiming and gives back the buffered jobs; lets running handlers finish until
   * `graceMs`, then aborts them and gives their jobs back; flushes the finished ones.
   */
  async stop(graceMs: number): Promise<void> {
    if (!this.#active) return
    this.#active = false
    clearInterval(this.#pollTimer)
    await this.#releaseBuffered()
    const running = () => [...this.#running.values()].map((entry) => entry.done)
    // A claim in flight finishes before the engine closes, giving back what it took: left to
    // answer after the stop, it would find the engine closed and its jobs held until their lease.
    const claim = this.#inFlight
    if (this.#running.size > 0 || claim !== undefined) {
      await settleWithin(Promise.allSettled([...running(), claim?.done]), graceMs)
    }
    if (claim !== undefined && this.#draining === 0) {
      claim.abort.abort(new JobError('E_JOBS_NOT_RUNNING', 'The worker is shutting down.'))
      await claim.done
    }
    if (this.#running.size > 0) {
      const left = [...this.#running.values()]
      this.logger.warn(
        { jobs: left.map((entry) => entry.execution.id) },
        `Stopping: ${left.length} job(s) still running at the deadline; aborting them and giving them back to the queue`,
      )
      for (const { execution } of left) {
        execution.shutdown = true
        execution.interrupt(new JobError('E_JOBS_NOT_RUNNING', 'The worker is shutting down.'))
      }
      await settleWithin(Promise.allSettled(running()), SHUTDOWN_GRACE_MS)
    }
    // Handlers that ignore the abort are left behind: their jobs were released above.
    await this.#flush()
    clearTimeout(this.#recordTimer)
    this.#recordTimer = undefined
    await this.#recordFailures()
    this.#stopHeartbeat()
  }

  #startHeartbeat(): void {
    if (this.#heartbeatTimer !== undefined) return
    this.#heartbeatTimer = setInterval(
      AsyncResource.bind(() => void this.#heartbeat()),
      Math.max(1, Math.floor(this.#settings.leaseMs / 3)),
    )
    this.#heartbeatTimer.unref()
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeatTimer)
    this.#heartbeatTimer = undefined
  }

  async #heartbeat(): Promise<void> {
    const ids = [
      ...this.#buffer.map((job) => job.id),
      ...[...this.#running.keys()].map((job) => job.id),
      ...this.#completed,
      ...this.#unrecorded.map((entry) => entry.job.id),
    ]
    if (ids.length === 0) return
    try {
      const leaseUntilMs = this.#clock.nowMs() + this.#settings.leaseMs
      for (const [holder, held] of this.#byHolder(ids)) {
        await this.#adapter.renew(holder, held, leaseUntilMs)
      }
    } catch (error) {
      this.logger.warn(
        { err: error, jobs: ids.length },
        'Job heartbeat failed; leases not renewed in time expire and their jobs run again',
      )
    }
  }

  #fill(): void {
    if (!this.#active && this.#draining === 0) return
    if (this.#claiming) {
      this.#again = true
      return
    }
    const { concurrency, batchSize } = this.#settings
    const low = this.#buffer.length < batchSize / 2
    const want = concurrency - this.#running.size + batchSize - this.#buffer.length
    if (want <= 0 || (!low && this.#draining === 0)) return
    this.#claiming = true
    this.#again = false
    // Never in the turn that asked: on SQLite (and inline) every query settles at once, so a
    // claim made from a finished job's continuation would run the whole queue in one turn of
    // the event loop, starving the heartbeat (leases expired under a live worker and its jobs
    // ran twice), the batched completions and all else the process serves.
    // A buffer running low takes a whole batch, not just what it lacks (about half of one): a
    // claim is one statement and one scan to the due jobs whatever it takes, so claims of half
    // a batch cost the server up to twice as much per job (bench:jobs, 250-275 against 500).
    setImmediate(this.#startClaim, low ? batchSize : Math.min(want, batchSize))
  }

  /** The claim {@link Worker.#fill} asked for, one turn later, unless the worker stopped meanwhile. */
  readonly #startClaim = (limit: number): void => {
    if (!this.#active && this.#draining === 0) {
      this.#claiming = false
      return
    }
    const abort = new AbortController()
    const done = this.#claim(limit, abort)
    const inFlight = { done, abort }
    this.#inFlight = inFlight
    void done.finally(() => {
      if (this.#inFlight === inFlight) this.#inFlight = undefined
    })
  }

  async #claim(limit: number, abort: AbortController): Promise<void> {
    let claimed: readonly ClaimedJob[] = []
    const claimer = this.#claimer
    const { leaseMs } = this.#settings
    let deadline: NodeJS.Timeout | undefined
    let answer: Promise<readonly ClaimedJob[]> | undefined
    try {
      const nowMs = this.#clock.nowMs()
      answer = this.#adapter.claim({
        worker: claimer,
        names: this.#names,
        limit,
        nowMs,
        leaseUntilMs: nowMs + leaseMs,
        signal: abort.signal,
        ...(this.#reads.size === 0 ? {} : { reads: this.#reads }),
      })
      // A claim never outlives its lease: one waiting on what never answers (a connection
      // that stopped answering, a promise that never settles) would leave the worker silent
      // for good, its jobs waiting. Given up, it is logged, the engine drops what it waited
      // on (the signal), and the next poll claims again.
      const givenUp = new Promise<never>((_, reject) => {
        abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true })
      })
      deadline = setTimeout(() => {
        abort.abort(
          new JobError(
            'E_JOBS_CLAIM_TIMEOUT',
            `Claiming jobs did not answer within the lease (${leaseMs} ms); given up, the engine's connection dropped, claiming again.`,
          ),
        )
      }, leaseMs)
      deadline.unref()
      claimed = await Promise.race([answer, givenUp])
      this.#claimFailures = 0
      for (const job of claimed) this.#holders.set(job.id, claimer)
    } catch (error) {
      this.#claimer = workerName()
      // What a given-up claim takes after all is leased in a name no claim uses again: given back.
      if (abort.signal.aborted) void answer?.then((late) => this.#releaseLate(claimer, late), noop)
      if (this.#draining > 0) {
        const waiters = this.#idleWaiters.splice(0)
        for (const waiter of waiters) waiter.reject(error)
      }
      // Logged once per outage, not once per poll; a claim given up at its deadline each time,
      // one given up by a stop never.
      const timedOut = isMortarError(error) && error.code === 'E_JOBS_CLAIM_TIMEOUT'
      const stopped = abort.signal.aborted && !timedOut
      if (!stopped && (timedOut || this.#claimFailures++ === 0)) {
        this.logger.error({ err: error }, 'Claiming jobs failed; retrying on the next poll')
      }
    } finally {
      clearTimeout(deadline)
      this.#claiming = false
    }
    if (!this.#active && this.#draining === 0) {
      // Stopped while the claim was in flight: these jobs go back at once.
      if (claimed.length > 0) await this.#release(claimed.map((job) => job.id))
      return
    }
    this.#prepare(claimed)
    this.#buffer.push(...claimed)
    this.#lastClaimEmpty = claimed.length === 0 && !this.#again
    this.#dispatch()
    if (claimed.length === limit || this.#again) setImmediate(this.#fillDetached)
    this.#checkIdle()
  }

  /**
   * Starts the `prepare` of each definition that has one, once for its jobs among `claimed`. A
   * job whose payload does not parse, or that used its attempts, is left out: it fails when
   * it would start.
   */
  #prepare(claimed: readonly ClaimedJob[]): void {
    const groups = new Map<
      JobDefinition,
      { ids: string[]; payloads: unknown[]; carried: unknown[] | undefined }
    >()
    for (const job of claimed) {
      const definition = this.#jobs.get(job.name)
      if (definition?.prepare === undefined || job.attempt > job.maxAttempts) continue
      let payload: unknown
      let stored: unknown
      try {
        ;({ payload, stored } = readPayload(definition, job))
      } catch {
        continue
      }
      // The claim read by the stored payload's key; a schema that changes it (a trim, a
      // default) hands the handler another: that read is not this job's, so prepare reads.
      const carried =
        job.carried !== undefined && sameKey(definition, stored, payload) ? job.carried : undefined
      const group = groups.get(definition)
      // Carried for every job of a group or none: the adapter carries a name's read or not.
      if (group === undefined) {
        groups.set(definition, {
          ids: [job.id],
          payloads: [payload],
          carried: carried === undefined ? undefined : [carried],
        })
      } else {
        group.ids.push(job.id)
        group.payloads.push(payload)
        if (carried === undefined) group.carried = undefined
        else group.carried?.push(carried)
      }
    }
    for (const [definition, { ids, payloads, carried }] of groups) {
      // The jobs share the one batch (each its index): a promise of its own per job was garbage
      // for every job.
      const batch = new PreparedBatch(this.#prepareValues(definition, payloads, carried))
      for (let index = 0; index < ids.length; index++) {
        this.#prepared.set(ids[index] as string, { payload: payloads[index], batch, index })
      }
    }
  }

  /** Runs a definition's `prepare` in a dependency scope of its own, and checks its answer. */
  async #prepareValues(
    definition: JobDefinition,
    payloads: readonly unknown[],
    carried: readonly unknown[] | undefined,
  ): Promise<readonly unknown[]> {
    const context = new RequestContext({ createScope: this.createScope })
    try {
      let logger = this.#prepareLoggers.get(definition)
      if (logger === undefined) {
        logger = this.logger.child({ job: definition.name })
        this.#prepareLoggers.set(definition, logger)
      }
      const values = await runInRequestContext(context, () =>
        definition.prepare?.(payloads, { logger, resolve: (key) => context.resolve(key) }, carried),
      )
      if (!Array.isArray(values) || values.length !== payloads.length) {
        throw new TypeError(
          `Job '${definition.name}': prepare must give one value per payload (${payloads.length}); it gave ${Array.isArray(values) ? values.length : typeof values}.`,
        )
      }
      return values
    } finally {
      // Ended even when nothing made a scope: work the prepare left running would otherwise make
      // one later that nobody disposes.
      await context.dispose().catch((error: unknown) => {
        this.logger.warn({ err: error, job: definition.name }, 'Disposing a job scope failed')
      })
    }
  }

  #dispatch(): void {
    while (this.#running.size < this.#settings.concurrency && this.#buffer.length > 0) {
      const job = this.#buffer.shift() as ClaimedJob
      const execution = new JobExecution(job, this)
      const entry = { execution, done: Promise.resolve() }
      this.#running.set(job, entry)
      entry.done = this.#execute(job, execution)
    }
  }

  async #execute(job: ClaimedJob, execution: JobExecution): Promise<void> {
    const definition = this.#jobs.get(job.name) as JobDefinition
    try {
      // Claimed once more than it may run: its last attempt's worker died (or lost the lease)
      // without a result. A job that kills its worker every time must not loop forever.
      if (job.attempt > job.maxAttempts) {
        throw new JobError(
          'E_JOB_LOST',
          `Job '${job.name}' (id ${job.id}) used its ${job.maxAttempts} attempts without a result: its worker stopped (killed, or lost its lease) during the last one.`,
        )
      }
      if (definition.prepare !== undefined && !this.#prepared.has(job.id)) this.#prepare([job])
      const prepared = this.#prepared.get(job.id)
      this.#prepared.delete(job.id)
      await execution.run(
        definition,
        prepared === undefined ? parsePayload(definition, job) : prepared.payload,
        prepared,
      )
      const entries = execution.completion
      if (entries !== undefined) this.#completions.set(job.id, { job, definition, entries })
      this.#complete(job.id)
    } catch (error) {
      if (execution.shutdown) await this.#release([job.id])
      else await this.#fail(job, definition, error)
    } finally {
      this.#running.delete(job)
      const disposing = execution.dispose()
      if (disposing !== undefined) await disposing
    }
    this.#dispatch()
    if (this.#buffer.length < this.#settings.batchSize / 2 || this.#draining > 0) this.#fill()
    this.#checkIdle()
  }

  #complete(id: string): void {
    this.#completed.push(id)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    setImmediate(() => void this.#flush())
  }

  /** Finishes the completed jobs in one statement; one flush at a time, the next batches up. */
  async #flush(): Promise<void> {
    this.#flushScheduled = false
    while (this.#flushing !== undefined) await this.#flushing
    if (this.#completed.length === 0) return
    const ids = this.#completed
    this.#completed = []
    const finished = new Set(ids)
    this.#flushing = (async () => {
      try {
        const done: string[] = []
        for (const [holder, held] of this.#byHolder(ids)) {
          done.push(...(await this.#finish(holder, held, finished)))
        }
        for (const id of ids) {
          if (!finished.has(id)) continue
          this.#holders.delete(id)
          this.#completions.delete(id)
        }
        if (done.length < finished.size) {
          const kept = new Set(done)
          this.logger.warn(
            { jobs: [...finished].filter((id) => !kept.has(id)) },
            'Finished jobs whose lease had passed to another worker; they may run twice',
          )
        }
      } catch (error) {
        this.logger.error({ err: error, jobs: ids.length }, 'Finishing jobs failed; retrying')
        this.#completed.unshift(...ids.filter((id) => finished.has(id)))
        const retry = setTimeout(() => void this.#flush(), FLUSH_RETRY_MS)
        retry.unref()
      }
    })()
    try {
      await this.#flushing
    } finally {
      this.#flushing = undefined
    }
    this.#checkIdle()
  }

  /**
   * Completes jobs held in one name, with the writes their handlers gave `completeWith`. A write
   * that cannot be built (its function threw) fails the attempts of the jobs that gave it values,
   * which leave `finished`: they are retried, never completed without their write.
   */
  async #finish(
    holder: string,
    held: readonly string[],
    finished: Set<string>,
  ): Promise<readonly string[]> {
    if (!held.some((id) => this.#completions.has(id))) return this.#adapter.complete(holder, held)
    let { writes: all, broken } = this.#writesFor(held)
    if (broken !== undefined) {
      for (const id of held) {
        const entry = this.#completions.get(id)
        const error = entry?.entries.find(({ write }) => broken?.has(write))
        if (entry === undefined || error === undefined) continue
        this.#completions.delete(id)
        finished.delete(id)
        void this.#fail(entry.job, entry.definition, broken.get(error.write)).then(() =>
          this.#checkIdle(),
        )
      }
      held = held.filter((id) => finished.has(id))
      if (held.length === 0) return []
      ;({ writes: all } = this.#writesFor(held))
    }
    const writes = (ids: readonly string[]) =>
      ids.length === held.length ? all : this.#writesFor(ids).writes
    if (this.#adapter.completeAlongside !== undefined) {
      return this.#adapter.completeAlongside(holder, held, writes)
    }
    // An engine that cannot share the app database's transaction: the writes go first, so a
    // crash between leaves the jobs to run again rather than finished without their writes.
    for (const write of all) await write.execute()
    return this.#adapter.complete(holder, held)
  }

  /**
   * One write per function handlers gave `completeWith`, from the values of these jobs; the
   * functions that threw instead, with their errors.
   */
  #writesFor(ids: readonly string[]): {
    writes: CompanionWrite[]
    broken: Map<CompletionWrite<unknown>, unknown> | undefined
  } {
    const values = new Map<CompletionWrite<unknown>, unknown[]>()
    // Indexed loops: this runs once a batch, rarely optimized, where each step of a `for…of`
    // allocates its iterator's result, a few for every job.
    for (let i = 0; i < ids.length; i++) {
      const entries = this.#completions.get(ids[i] as string)?.entries
      if (entries === undefined) continue
      for (let j = 0; j < entries.length; j++) {
        const { write, value } = entries[j] as CompletionEntry
        const list = values.get(write)
        if (list === undefined) values.set(write, [value])
        else list.push(value)
      }
    }
    const writes: CompanionWrite[] = []
    let broken: Map<CompletionWrite<unknown>, unknown> | undefined
    for (const [write, list] of values) {
      try {
        writes.push(write(list))
      } catch (error) {
        broken ??= new Map()
        broken.set(write, error)
      }
    }
    return { writes, broken }
  }

  async #fail(job: ClaimedJob, definition: JobDefinition, error: unknown): Promise<void> {
    const nowMs = this.#clock.nowMs()
    const permanent =
      isPermanentJobError(error) ||
      (isMortarError(error) && (error.code === 'E_JOB_PAYLOAD' || error.code === 'E_JOB_LOST'))
    const outcome: FailOutcome =
      permanent || job.attempt >= job.maxAttempts
        ? { deadAtMs: nowMs }
        : {
            retryAtMs:
              nowMs +
              Math.max(backoffDelay(job.attempt, definition.backoff), retryLaterDelay(error)),
          }
    const recorded = attemptError(job.attempt, nowMs, error)
    const fields = { err: error, job: job.name, jobId: job.id, attempt: job.attempt }
    if ('deadAtMs' in outcome) {
      this.logger.error(
        fields,
        permanent
          ? `Job '${job.name}' failed permanently; it is dead`
          : `Job '${job.name}' failed its last attempt (${job.attempt}); it is dead`,
      )
    } else {
      this.logger.warn(
        { ...fields, retryAt: new Date(outcome.retryAtMs).toISOString() },
        `Job '${job.name}' failed attempt ${job.attempt} of ${job.maxAttempts}; retrying`,
      )
    }
    this.#unrecorded.push({
      job,
      error: recorded,
      outcome,
      untold: 'deadAtMs' in outcome && definition.onDead !== undefined,
    })
    await this.#recordFailures()
  }

  /**
   * Writes the failed attempts waiting to be recorded, telling each death to its job's `onDead`
   * first (a crash between tells it again: the job is claimed past its attempts, `E_JOB_LOST`);
   * those that still fail are retried later.
   */
  async #recordFailures(): Promise<void> {
    const pending = this.#unrecorded.splice(0)
    const untold: typeof pending = []
    let retried = false
    for (const [index, entry] of pending.entries()) {
      const { job, error, outcome } = entry
      if (entry.untold) {
        try {
          await this.#tellDeath(job, error)
          entry.untold = false
        } catch (failure) {
          untold.push(entry)
          this.logger.error(
            { err: failure, job: job.name, jobId: job.id },
            `onDead of job '${job.name}' failed; the job is recorded dead once it succeeds (retrying)`,
          )
          continue
        }
      }
      try {
        const held = await this.#adapter.fail(this.#holderOf(job.id), job.id, error, outcome)
        if (!this.#claimedAgain(job)) this.#holders.delete(job.id)
        if (held && 'retryAtMs' in outcome && outcome.retryAtMs <= this.#clock.nowMs())
          retried = true
        if (!held) {
          this.logger.warn(
            { job: job.name, jobId: job.id, attempt: job.attempt },
            'A failed job had passed to another worker; its failure was not recorded',
          )
        }
      } catch (failure) {
        this.#unrecorded.push(...untold, ...pending.slice(index))
        this.logger.error(
          { err: failure, jobs: pending.length - index },
          'Recording failed attempts failed; retrying (after a stop, they run again once their lease expires)',
        )
        this.#retryRecording()
        if (retried) this.#madeDue()
        return
      }
    }
    if (untold.length > 0) {
      this.#unrecorded.push(...untold)
      this.#retryRecording()
    }
    if (retried) this.#madeDue()
  }

  /**
   * Jobs this worker gave back to the queue (a retry, a release) may be due at once: a claim
   * that found nothing before then no longer says the queue is empty, or drain() would return
   * with them waiting (a retry recorded late, after a failed write, did so).
   */
  #madeDue(): void {
    this.#lastClaimEmpty = false
    this.#fill()
  }

  #retryRecording(): void {
    if (this.#recordTimer !== undefined || (!this.#active && this.#draining === 0)) return
    this.#recordTimer = setTimeout(() => {
      this.#recordTimer = undefined
      void this.#recordFailures().then(() => this.#checkIdle())
    }, FLUSH_RETRY_MS)
    this.#recordTimer.unref()
  }

  /** Runs the job's `onDead`, if it has one, with its payload when that still parses. */
  async #tellDeath(job: ClaimedJob, error: AttemptError): Promise<void> {
    const definition = this.#jobs.get(job.name) as JobDefinition
    let payload: unknown
    try {
      payload = parsePayload(definition, job)
    } catch {
      payload = undefined
    }
    const execution = new JobExecution(job, this)
    try {
      await execution.dead(definition, payload, error)
    } finally {
      await execution.dispose()
    }
  }

  async #releaseBuffered(): Promise<void> {
    const ids = this.#buffer.splice(0).map((job) => job.id)
    if (ids.length > 0) await this.#release(ids)
  }

  async #release(ids: readonly string[]): Promise<void> {
    try {
      for (const [holder, held] of this.#byHolder(ids)) {
        await this.#adapter.release(holder, held, this.#clock.nowMs())
      }
    } catch (error) {
      this.logger.warn(
        { err: error, jobs: ids.length },
        'Giving jobs back failed; they run again when their lease expires',
      )
    }
    for (const id of ids) {
      this.#holders.delete(id)
      this.#prepared.delete(id)
    }
    this.#madeDue()
  }

  /** Gives back the jobs a claim took after the worker gave up on it (their lease's name). */
  async #releaseLate(claimer: string, jobs: readonly ClaimedJob[]): Promise<void> {
    if (jobs.length === 0) return
    for (const job of jobs) this.#holders.set(job.id, claimer)
    await this.#release(jobs.map((job) => job.id))
  }

  /**
   * Whether a later attempt of `job` is here already: its retry, due at once, can be claimed
   * while this attempt still records its failure. The job's id keys its holder, so what this
   * attempt leaves must not take the retry's with it (drain() returned with the retry running).
   */
  #claimedAgain(job: ClaimedJob): boolean {
    for (const running of this.#running.keys()) {
      if (running.id === job.id && running !== job) return true
    }
    return this.#buffer.some((buffered) => buffered.id === job.id && buffered !== job)
  }

  #holderOf(id: string): string {
    return this.#holders.get(id) ?? this.#claimer
  }

  /** The ids by the name their leases are held in: one group, unless a claim's answer was lost. */
  #byHolder(ids: readonly string[]): Map<string, string[]> {
    const groups = new Map<string, string[]>()
    for (const id of ids) {
      const holder = this.#holderOf(id)
      const group = groups.get(holder)
      if (group === undefined) groups.set(holder, [id])
      else group.push(id)
    }
    return groups
  }

  async progress(id: string, value: JsonValue): Promise<void> {
    const held = await this.#adapter.progress(this.#holderOf(id), id, value)
    if (!held) this.logger.debug({ jobId: id }, 'Progress of a job this worker no longer holds')
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0) return
    const idle =
      this.#lastClaimEmpty &&
      !this.#claiming &&
      this.#buffer.length === 0 &&
      this.#running.size === 0 &&
      this.#completed.length === 0 &&
      this.#unrecorded.length === 0 &&
      this.#flushing === undefined
    if (!idle) return
    for (const waiter of this.#idleWaiters.splice(0)) waiter.resolve()
  }
}

function noop(): void {}

function workerName(): string {
  return `${hostname().slice(0, 32)}:${process.pid}:${randomBytes(4).toString('hex')}`
}

function parsePayload(definition: JobDefinition, job: ClaimedJob): unknown {
  return readPayload(definition, job).payload
}

/** Whether the stored payload and the parsed one hold the same key for the definition's claim read. */
function sameKey(definition: JobDefinition, stored: unknown, payload: unknown): boolean {
  const key = definition.claimRead?.key
  if (key === undefined) return true
  const parsed = fieldOf(payload, key)
  return typeof parsed === 'string' && fieldOf(stored, key) === parsed
}

/** A field of a payload, if it is an object: a function, not a closure made (and named) per job. */
function fieldOf(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[key]
    : undefined
}

/** The job's payload parsed by its schema, and as it was stored (its JSON, parsed). */
function readPayload(
  definition: JobDefinition,
  job: ClaimedJob,
): { readonly payload: unknown; readonly stored: unknown } {
  let raw: unknown
  try {
    raw = JSON.parse(job.payload)
  } catch (error) {
    throw new JobError(
      'E_JOB_PAYLOAD',
      `The stored payload of job '${job.name}' (id ${job.id}) is not JSON.`,
      {
        cause: error,
      },
    )
  }
  const result = definition.schema.safeParse(raw)
  if (result.success) return { payload: result.data, stored: raw }
  throw new JobError(
    'E_JOB_PAYLOAD',
    `The stored payload of job '${job.name}' (id ${job.id}) no longer fits its schema (the schema changed since it was enqueued): ${result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}. Fix the data or the schema, then retry it.`,
    { cause: result.error },
  )
}

// The message is kept with the job (at rest, in `mortar jobs dead`, given to onDead), so it is
// censored as the logger censors it: a driver's or client's error quotes the URL it failed on,
// password included, or the key it sent (`api_key=…`).
function attemptError(attempt: number, nowMs: number, error: unknown): AttemptError {
  const at = new Date(nowMs).toISOString()
  const message = censorText(thrownText(error))
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return {
      attempt,
      at,
      name: typeof error.name === 'string' ? error.name : 'Error',
      message,
      ...(typeof code === 'string' ? { code } : {}),
    }
  }
  return { attempt, at, name: 'NonError', message }
}

async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    promise,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ])
  clearTimeout(timer)
}
