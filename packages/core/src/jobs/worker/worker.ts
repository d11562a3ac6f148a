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
import { readableThrown, thrownText } from '../../errors/thrown-text.js'
import { isPermanentJobError, JobError, retryLaterDelay } from '../job-errors.js'
import { keptError } from '../job-state.js'
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
/** Flushes a completed job's write may fail in, none of the others going through, before its attempt fails. */
const MAX_UNWRITTEN_TRIES = 10
const SHUTDOWN_GRACE_MS = 100

/**
 * Runs jobs from a queue adapter: claims them in batches into a local buffer, runs up to
 * `concurrency` handlers at once, finishes them in batches, renews every lease it holds with
 * one heartbeat, retries failures with backoff and gives unfinished jobs back on stop.
 */
export class Worker {
  /** This worker's name, unique per process and start; each claim leases in a name made from it. */
  readonly #name = workerName()
  #claims = 0
  /**
   * The name each attempt this worker has is leased in, by attempt: each claim leases in a name
   * of its own, so two attempts of one job (its lease lapsed in an outage and a later claim took
   * it again) never share a lease, and what the older one writes (its completion, failure,
   * progress, release) finds its lease gone instead of finishing or failing the newer one. A
   * claim that failed may still have committed: its jobs are leased in a name no claim uses
   * again, and run once that lease passes. An attempt not here holds no lease.
   */
  readonly #holders = new Map<ClaimedJob, string>()
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
  readonly #prepared = new Map<ClaimedJob, { payload: unknown } & PreparedValue>()
  /** The logger each definition's `prepare` is given, made once. */
  readonly #prepareLoggers = new Map<JobDefinition, Logger>()
  #completed: ClaimedJob[] = []
  /** Completed jobs whose completion failed, by how many flushes it failed in. */
  readonly #unwrittenTries = new Map<ClaimedJob, number>()
  /** What the handlers of completed jobs gave `completeWith`, kept until the completion is written. */
  readonly #completions = new Map<
    ClaimedJob,
    { definition: JobDefinition; entries: readonly CompletionEntry[] }
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
    const jobs = [
      ...this.#buffer,
      ...this.#running.keys(),
      ...this.#completed,
      ...this.#unrecorded.map((entry) => entry.job),
    ]
    if (jobs.length === 0) return
    try {
      const nowMs = this.#clock.nowMs()
      for (const [holder, held] of this.#byHolder(jobs)) {
        await this.#adapter.renew(holder, ids(held), this.#settings.leaseMs, nowMs)
      }
    } catch (error) {
      this.logger.warn(
        { err: error, jobs: jobs.length },
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
    this.#claims += 1
    const claimer = `${this.#name}:${this.#claims.toString(36)}`
    const { leaseMs } = this.#settings
    let deadline: NodeJS.Timeout | undefined
    let answer: Promise<readonly ClaimedJob[]> | undefined
    try {
      answer = this.#adapter.claim({
        worker: claimer,
        names: this.#names,
        limit,
        nowMs: this.#clock.nowMs(),
        leaseMs,
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
      for (const job of claimed) this.#hold(job, claimer)
    } catch (error) {
      // What a given-up claim takes after all is leased in its name, which no claim uses again:
      // given back.
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
      if (claimed.length > 0) await this.#release(claimed)
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
      { jobs: ClaimedJob[]; payloads: unknown[]; carried: unknown[] | undefined }
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
          jobs: [job],
          payloads: [payload],
          carried: carried === undefined ? undefined : [carried],
        })
      } else {
        group.jobs.push(job)
        group.payloads.push(payload)
        if (carried === undefined) group.carried = undefined
        else group.carried?.push(carried)
      }
    }
    for (const [definition, { jobs, payloads, carried }] of groups) {
      // The jobs share the one batch (each its index): a promise of its own per job was garbage
      // for every job.
      const batch = new PreparedBatch(this.#prepareValues(definition, payloads, carried))
      for (let index = 0; index < jobs.length; index++) {
        this.#prepared.set(jobs[index] as ClaimedJob, { payload: payloads[index], batch, index })
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
      if (definition.prepare !== undefined && !this.#prepared.has(job)) this.#prepare([job])
      const prepared = this.#prepared.get(job)
      this.#prepared.delete(job)
      await execution.run(
        definition,
        prepared === undefined ? parsePayload(definition, job) : prepared.payload,
        prepared,
      )
      const entries = execution.completion
      if (entries !== undefined) this.#completions.set(job, { definition, entries })
      this.#complete(job)
    } catch (error) {
      if (execution.shutdown) await this.#release([job])
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

  #complete(job: ClaimedJob): void {
    this.#completed.push(job)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    setImmediate(() => void this.#flush())
  }

  /**
   * Finishes the completed jobs, a statement per claim; one flush at a time, the next batches up.
   * Each claim's jobs finish on their own, so one whose write fails holds back no other's.
   */
  async #flush(): Promise<void> {
    this.#flushScheduled = false
    while (this.#flushing !== undefined) await this.#flushing
    if (this.#completed.length === 0) return
    const jobs = this.#completed
    this.#completed = []
    const finished = new Set(jobs)
    this.#flushing = (async () => {
      const lost: string[] = []
      let wrote = false
      const finish = async (holder: string, held: readonly ClaimedJob[]) => {
        const ended = await this.#finish(holder, held, finished)
        wrote = true
        if (ended.length < held.length) {
          const kept = new Set(ended)
          for (const job of held) if (finished.has(job) && !kept.has(job.id)) lost.push(job.id)
        }
      }
      const failed: { holder: string; held: ClaimedJob[]; error: unknown }[] = []
      for (const [holder, held] of this.#byHolder(jobs)) {
        await finish(holder, held).catch((error: unknown) => failed.push({ holder, held, error }))
      }
      const unwritten: { job: ClaimedJob; error: unknown }[] = []
      // A write refused for one job's values fails its claim's whole statement: halves find
      // that job. A half that fails too is split again once another went through (the
      // database works), or on the last try; else it waits, which is all an outage costs.
      const split = async (holder: string, held: readonly ClaimedJob[], error: unknown) => {
        const left = held.filter((job) => finished.has(job))
        if (left.length < 2 || !left.some((job) => this.#completions.has(job))) {
          for (const job of left) unwritten.push({ job, error })
          return
        }
        const last = left.some(
          (job) => (this.#unwrittenTries.get(job) ?? 0) >= MAX_UNWRITTEN_TRIES - 1,
        )
        const half = Math.ceil(left.length / 2)
        const refused: { part: ClaimedJob[]; error: unknown }[] = []
        for (const part of [left.slice(0, half), left.slice(half)]) {
          await finish(holder, part).catch((failure: unknown) =>
            refused.push({ part, error: failure }),
          )
        }
        for (const { part, error: failure } of refused) {
          if (wrote || last) await split(holder, part, failure)
          else for (const job of part) unwritten.push({ job, error: failure })
        }
      }
      for (const { holder, held, error } of failed) await split(holder, held, error)
      const retried = new Set<ClaimedJob>()
      // Recorded before the flush ends, so drain() never returns with such a job still held.
      const failing: Promise<void>[] = []
      for (const { job, error } of unwritten) {
        const entry = this.#completions.get(job)
        const tries = (this.#unwrittenTries.get(job) ?? 0) + 1
        if (entry !== undefined && (wrote || tries >= MAX_UNWRITTEN_TRIES)) {
          // Its own write is refused (others went through), or it failed every try: its attempt
          // fails, retried with backoff and dead at last, never held unfinished for good.
          finished.delete(job)
          this.#completions.delete(job)
          this.#unwrittenTries.delete(job)
          failing.push(this.#fail(job, entry.definition, error))
        } else {
          retried.add(job)
          this.#unwrittenTries.set(job, tries)
        }
      }
      for (const job of jobs) {
        if (!finished.has(job) || retried.has(job)) continue
        // An attempt that lost its lease to a later one of its own job (no holder) ends unwritten.
        if (!this.#holders.delete(job)) lost.push(job.id)
        this.#completions.delete(job)
        this.#unwrittenTries.delete(job)
      }
      if (lost.length > 0) {
        this.logger.warn(
          { jobs: lost },
          'Finished jobs whose lease had passed to another attempt; they may run twice',
        )
      }
      await Promise.all(failing)
      if (retried.size > 0) {
        this.logger.error(
          { err: unwritten[0]?.error, jobs: retried.size },
          'Finishing jobs failed; retrying',
        )
        this.#completed.unshift(...retried)
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
    held: readonly ClaimedJob[],
    finished: Set<ClaimedJob>,
  ): Promise<readonly string[]> {
    if (!held.some((job) => this.#completions.has(job))) {
      return this.#adapter.complete(holder, ids(held))
    }
    let { writes: all, broken } = this.#writesFor(held)
    if (broken !== undefined) {
      for (const job of held) {
        const entry = this.#completions.get(job)
        const error = entry?.entries.find(({ write }) => broken?.has(write))
        if (entry === undefined || error === undefined) continue
        this.#completions.delete(job)
        finished.delete(job)
        void this.#fail(job, entry.definition, broken.get(error.write)).then(() =>
          this.#checkIdle(),
        )
      }
      held = held.filter((job) => finished.has(job))
      if (held.length === 0) return []
      ;({ writes: all } = this.#writesFor(held))
    }
    // One claim's name holds one attempt of a job, so its ids name its attempts.
    const writes = (done: readonly string[]) => {
      if (done.length === held.length) return all
      const kept = new Set(done)
      return this.#writesFor(held.filter((job) => kept.has(job.id))).writes
    }
    if (this.#adapter.completeAlongside !== undefined) {
      return this.#adapter.completeAlongside(holder, ids(held), writes)
    }
    // An engine that cannot share the app database's transaction: the writes go first, so a
    // crash between leaves the jobs to run again rather than finished without their writes.
    for (const write of all) await write.execute()
    return this.#adapter.complete(holder, ids(held))
  }

  /**
   * One write per function handlers gave `completeWith`, from the values of these jobs; the
   * functions that threw instead, with their errors.
   */
  #writesFor(jobs: readonly ClaimedJob[]): {
    writes: CompanionWrite[]
    broken: Map<CompletionWrite<unknown>, unknown> | undefined
  } {
    const values = new Map<CompletionWrite<unknown>, unknown[]>()
    // Indexed loops: this runs once a batch, rarely optimized, where each step of a `for…of`
    // allocates its iterator's result, a few for every job.
    for (let i = 0; i < jobs.length; i++) {
      const entries = this.#completions.get(jobs[i] as ClaimedJob)?.entries
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

  async #fail(job: ClaimedJob, definition: JobDefinition, thrown: unknown): Promise<void> {
    // Read once here: a value whose getters or traps throw would fail this report, leaving the
    // job running with nothing recorded until its lease ran out, again at each claim.
    const error = readableThrown(thrown)
    const nowMs = this.#clock.nowMs()
    const permanent =
      isPermanentJobError(error) ||
      (isMortarError(error) && (error.code === 'E_JOB_PAYLOAD' || error.code === 'E_JOB_LOST'))
    const outcome: FailOutcome =
      permanent || job.attempt >= job.maxAttempts
        ? { dead: true }
        : {
            retryInMs: Math.max(
              backoffDelay(job.attempt, definition.backoff),
              retryLaterDelay(error),
            ),
          }
    const recorded = attemptError(job.attempt, nowMs, error)
    const fields = { err: error, job: job.name, jobId: job.id, attempt: job.attempt }
    if ('dead' in outcome) {
      this.logger.error(
        fields,
        permanent
          ? `Job '${job.name}' failed permanently; it is dead`
          : `Job '${job.name}' failed its last attempt (${job.attempt}); it is dead`,
      )
    } else {
      this.logger.warn(
        { ...fields, retryInMs: outcome.retryInMs },
        `Job '${job.name}' failed attempt ${job.attempt} of ${job.maxAttempts}; retrying`,
      )
    }
    this.#unrecorded.push({
      job,
      error: recorded,
      outcome,
      untold: 'dead' in outcome && definition.onDead !== undefined,
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
        const holder = this.#holders.get(job)
        const held =
          holder !== undefined &&
          (await this.#adapter.fail(holder, job.id, error, outcome, this.#clock.nowMs()))
        this.#holders.delete(job)
        if (held && 'retryInMs' in outcome && outcome.retryInMs <= 0) retried = true
        if (!held) {
          this.logger.warn(
            { job: job.name, jobId: job.id, attempt: job.attempt },
            'A failed job had passed to another attempt; its failure was not recorded',
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
    const jobs = this.#buffer.splice(0)
    if (jobs.length > 0) await this.#release(jobs)
  }

  async #release(jobs: readonly ClaimedJob[]): Promise<void> {
    try {
      for (const [holder, held] of this.#byHolder(jobs)) {
        await this.#adapter.release(holder, ids(held), this.#clock.nowMs())
      }
    } catch (error) {
      this.logger.warn(
        { err: error, jobs: jobs.length },
        'Giving jobs back failed; they run again when their lease expires',
      )
    }
    for (const job of jobs) {
      this.#holders.delete(job)
      this.#prepared.delete(job)
    }
    this.#madeDue()
  }

  /** Gives back the jobs a claim took after the worker gave up on it (their lease's name). */
  async #releaseLate(claimer: string, jobs: readonly ClaimedJob[]): Promise<void> {
    if (jobs.length === 0) return
    for (const job of jobs) this.#hold(job, claimer)
    await this.#release(jobs)
  }

  /**
   * Records the lease `job` was claimed under: the claim's name, or the one the engine gives
   * (a job it took for this worker earlier, as BullMQ's fetch on completion). That name holding
   * another attempt of the job here means the engine handed the job out again under it: the
   * older attempt lost its lease, and keeps none, so that nothing it writes reaches this one.
   */
  #hold(job: ClaimedJob, claimer: string): void {
    const lease = job.lease ?? claimer
    if (job.lease !== undefined) {
      for (const [other, holder] of this.#holders) {
        if (holder === lease && other.id === job.id) this.#holders.delete(other)
      }
    }
    this.#holders.set(job, lease)
  }

  /**
   * The attempts by the name their leases are held in (one group per claim still held from);
   * attempts that hold no lease are left out: nothing is written for them.
   */
  #byHolder(jobs: readonly ClaimedJob[]): Map<string, ClaimedJob[]> {
    const groups = new Map<string, ClaimedJob[]>()
    for (const job of jobs) {
      const holder = this.#holders.get(job)
      if (holder === undefined) continue
      const group = groups.get(holder)
      if (group === undefined) groups.set(holder, [job])
      else group.push(job)
    }
    return groups
  }

  async progress(job: ClaimedJob, value: JsonValue): Promise<void> {
    const holder = this.#holders.get(job)
    const held = holder !== undefined && (await this.#adapter.progress(holder, job.id, value))
    if (!held) this.logger.debug({ jobId: job.id }, 'Progress of a job this worker no longer holds')
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

function ids(jobs: readonly ClaimedJob[]): string[] {
  return jobs.map((job) => job.id)
}

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
      `The stored payload of job '${job.name}' (id ${job.id}) is not JSON (written by other code or an older version): the job cannot run. Fix its row, or purge it.`,
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
// password included, or the key it sent (`api_key=…`). Censored whole, then cut to what a job
// keeps.
function attemptError(attempt: number, nowMs: number, error: unknown): AttemptError {
  const at = new Date(nowMs).toISOString()
  const message = censorText(thrownText(error))
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return keptError({
      attempt,
      at,
      name: typeof error.name === 'string' ? error.name : 'Error',
      message,
      ...(typeof code === 'string' ? { code } : {}),
    })
  }
  return keptError({ attempt, at, name: 'NonError', message })
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
