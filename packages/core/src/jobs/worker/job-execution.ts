import {
  RequestContext,
  type RequestScope,
  runInRequestContext,
} from '../../context/request-context.js'
import type { Key } from '../../di/token.js'
import { ValidationError } from '../../errors/http-errors.js'
import type { Logger } from '../../logger/logger.js'
import type { JobDeath, JobDefinition } from '../define-job.js'
import type { JobContext, JobProgress, JsonValue } from '../job-context.js'
import { JobError } from '../job-errors.js'
import type { CompletionWrite } from '../job-queue.js'
import type { AttemptError, ClaimedJob } from '../queue-adapter.js'

const MAX_PROGRESS_CHARS = 4_096

/** A value a handler gave {@link JobContext.completeWith}, with the write that takes it. */
export interface CompletionEntry {
  readonly write: CompletionWrite<unknown>
  readonly value: unknown
}

/** What a definition's `prepare` gives the jobs of one claim: its promise, then its values. */
export class PreparedBatch {
  readonly promise: Promise<readonly unknown[]>
  /**
   * The values once `promise` resolved: a job that starts then (most of a claim's jobs start
   * after its `prepare`) takes its own at once, with no promise and no callbacks of its own.
   */
  values: readonly unknown[] | undefined

  constructor(promise: Promise<readonly unknown[]>) {
    this.promise = promise
    // Seen when a job starts; jobs given back before then never look.
    promise.then(
      (values) => {
        this.values = values
      },
      () => {},
    )
  }
}

/** A job's value from its definition's `prepare`: item `index` of what it gave the claim's jobs. */
export interface PreparedValue {
  readonly batch: PreparedBatch
  readonly index: number
}

/** What an execution needs from its worker. */
export interface ExecutionHost {
  readonly logger: Logger
  readonly createScope: () => RequestScope
  progress(job: ClaimedJob, value: JsonValue): Promise<void>
}

/**
 * One attempt of one job: the {@link JobContext} its handler sees, and the means to interrupt
 * it on timeout or shutdown. The signal, logger and scope are made on first use: a no-op job
 * pays for none of them.
 */
export class JobExecution implements JobContext {
  readonly id: string
  readonly name: string
  readonly attempt: number
  readonly maxAttempts: number
  /** Set when the worker interrupted the attempt to shut down: the job goes back unfinished. */
  shutdown = false
  readonly #host: ExecutionHost
  /** The attempt, whose lease (not the job's id) its progress is written under. */
  readonly #job: ClaimedJob
  #context: RequestContext | undefined
  #controller: AbortController | undefined
  #logger: Logger | undefined
  #interrupt: ((error: unknown) => void) | undefined
  #resolve: (() => void) | undefined
  #timer: NodeJS.Timeout | undefined
  #timeout: number | undefined
  /** When its timeout passes, by `performance.now()`. */
  #deadline: number | undefined
  #completion: CompletionEntry[] | undefined
  /** The handler was called and has not settled: an interrupted one may still use its scope. */
  #handling = false
  /** Disposal was asked for while the handler still ran: done when it settles. */
  #disposeWhenSettled = false

  constructor(job: ClaimedJob, host: ExecutionHost) {
    this.id = job.id
    this.name = job.name
    this.attempt = job.attempt
    this.maxAttempts = job.maxAttempts
    this.#host = host
    this.#job = job
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController()
    return this.#controller.signal
  }

  get logger(): Logger {
    this.#logger ??= this.#host.logger.child({
      job: this.name,
      jobId: this.id,
      attempt: this.attempt,
    })
    return this.#logger
  }

  resolve<T>(key: Key<T>): T {
    return this.#requestContext().resolve(key)
  }

  async progress(value: JobProgress): Promise<void> {
    await this.#host.progress(this.#job, checkProgress(this.name, value))
  }

  completeWith<T>(write: CompletionWrite<T>, value: T): void {
    if (typeof write !== 'function') {
      throw new TypeError(
        `Job '${this.name}': completeWith needs a function that builds the write from the values.`,
      )
    }
    const entry: CompletionEntry = { write: write as CompletionWrite<unknown>, value }
    // Most handlers give one: a list of one, not an empty one grown by a push (room for 17).
    if (this.#completion === undefined) this.#completion = [entry]
    else this.#completion.push(entry)
  }

  /** What the handler gave {@link JobExecution.completeWith}, in call order. */
  get completion(): readonly CompletionEntry[] | undefined {
    return this.#completion
  }

  /**
   * Runs the handler in a request context of its own (so scoped providers and
   * `currentRequestContext()` work as in a request), with the value its definition's `prepare`
   * gave, once that is read; settles early when interrupted.
   */
  run<S extends JobDefinition>(
    definition: S,
    payload: unknown,
    prepared?: PreparedValue,
  ): Promise<void> {
    // Methods, not closures made for each attempt: the build names each closure kept in a
    // variable (`keepNames`: a property defined on it), garbage and work for every attempt.
    const settled = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve
      this.#interrupt = reject
    })
    if (definition.timeout !== undefined) {
      this.#timeout = definition.timeout
      this.#deadline = performance.now() + definition.timeout
      timeAtTurnEnd(this)
    }
    if (prepared === undefined) this.#start(definition, payload, undefined)
    else if (prepared.batch.values !== undefined)
      this.#start(definition, payload, prepared.batch.values[prepared.index])
    else
      prepared.batch.promise.then(
        (values) => this.#start(definition, payload, values[prepared.index]),
        (error) =>
          this.#settle(error ?? new Error(`Job '${this.name}': prepare rejected with nothing.`)),
      )
    return settled
  }

  /** Runs the handler with its prepared value, unless interrupted (timeout, shutdown) before. */
  #start(definition: JobDefinition, payload: unknown, value: unknown): void {
    if (this.#interrupt === undefined) return
    this.#handling = true
    try {
      const result = runInRequestContext(this.#requestContext(), () =>
        definition.handler(payload, this, value),
      )
      // Any thenable, not only a native promise: one whose rejection went unread was a success.
      if (typeof (result as { then?: unknown } | undefined)?.then === 'function')
        Promise.resolve(result).then(
          () => this.#settle(undefined),
          (error) => this.#settle(error ?? new Error('The handler rejected with nothing.')),
        )
      else this.#settle(undefined)
    } catch (error) {
      this.#settle(error ?? new Error('The handler threw nothing.'))
    }
  }

  /** Ends the attempt: fulfilled without `error`; nothing once it ended (interrupted). */
  #settle(error: unknown): void {
    this.#handling = false
    if (this.#disposeWhenSettled) {
      this.#disposeWhenSettled = false
      void this.dispose()
    }
    const resolve = this.#resolve
    const reject = this.#interrupt
    if (resolve === undefined || reject === undefined) return
    this.#stopTimer()
    this.#resolve = undefined
    this.#interrupt = undefined
    if (error === undefined) resolve()
    else reject(error)
  }

  /** Tells the definition's `onDead` that the job died with `error`, in a request context of its own. */
  async dead(definition: JobDefinition, payload: unknown, error: AttemptError): Promise<void> {
    if (definition.onDead === undefined) return
    const death: JobDeath = {
      id: this.id,
      name: this.name,
      attempt: this.attempt,
      maxAttempts: this.maxAttempts,
      error,
      logger: this.logger,
      resolve: (key) => this.resolve(key),
    }
    await runInRequestContext(this.#requestContext(), () => definition.onDead?.(payload, death))
  }

  /** Aborts the signal with `error` and makes {@link JobExecution.run} reject with it now. */
  interrupt(error: unknown): void {
    const interrupt = this.#interrupt
    if (interrupt === undefined) return
    this.#interrupt = undefined
    this.#resolve = undefined
    this.#stopTimer()
    this.#controller ??= new AbortController()
    this.#controller.abort(error)
    interrupt(error)
  }

  /**
   * Sets the timer of its timeout, for what is left of it, unless it finished already: called at
   * the end of the turn of the event loop it started in (see `timeAtTurnEnd`).
   */
  startTimer(): void {
    if (this.#interrupt === undefined || this.#deadline === undefined) return
    this.#timer = setTimeout(timedOut, Math.max(0, this.#deadline - performance.now()), this)
    this.#timer.unref()
  }

  /** The attempt ran past its timeout. */
  timedOut(): void {
    this.interrupt(
      new JobError(
        'E_JOB_TIMEOUT',
        `Job '${this.name}' (id ${this.id}) ran past its timeout of ${this.#timeout} ms.`,
      ),
    )
  }

  #stopTimer(): void {
    this.#deadline = undefined
    if (this.#timer === undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  /**
   * Disposes the job's scope, if it made one, logging a failure; `undefined` if there is nothing
   * to wait for, so most attempts (which resolve nothing scoped) wait for no promise. A handler
   * still running (interrupted by its timeout or a shutdown) keeps its scope until it settles.
   */
  dispose(): Promise<void> | undefined {
    if (this.#handling) {
      this.#disposeWhenSettled = true
      return undefined
    }
    const context = this.#context
    if (context === undefined) return undefined
    if (!context.hasScope) {
      // Ended all the same: work the handler left running must not make a scope nobody disposes.
      void context.dispose()
      return undefined
    }
    return context.dispose().catch((error: unknown) => {
      this.#host.logger.warn({ err: error, jobId: this.id }, 'Disposing a job scope failed')
    })
  }

  #requestContext(): RequestContext {
    if (this.#context === undefined) {
      const execution = this
      this.#context = new RequestContext({
        requestId: `job-${this.id}`,
        createScope: this.#host.createScope,
        // Read lazily by the context: code that asks the request's signal gets the job's.
        get signal() {
          return execution.signal
        },
      })
    }
    return this.#context
  }
}

/**
 * Attempts with a timeout started in this turn of the event loop. Their timers are set at its
 * end, in one pass, for those still running: most attempts of a short job end within the turn
 * they start in, and a timer set and cleared for each of them cost more than the rest of its
 * bookkeeping. The timer counts from the attempt's start, so its timeout is unchanged.
 */
let startedThisTurn: JobExecution[] = []

function timeAtTurnEnd(execution: JobExecution): void {
  if (startedThisTurn.push(execution) === 1) setImmediate(startTimers)
}

function startTimers(): void {
  const started = startedThisTurn
  startedThisTurn = []
  for (const execution of started) execution.startTimer()
}

function timedOut(execution: JobExecution): void {
  execution.timedOut()
}

function checkProgress(name: string, value: JobProgress): JsonValue {
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    let json: string | undefined
    try {
      json = JSON.stringify(value)
    } catch {
      json = undefined
    }
    if (json !== undefined && json.length <= MAX_PROGRESS_CHARS)
      return JSON.parse(json) as JsonValue
  }
  throw new ValidationError(
    [
      {
        path: 'progress',
        message: 'a finite number or a JSON object of at most 4 KB',
        code: 'invalid_progress',
      },
    ],
    `Job '${name}' reported a progress that is neither a finite number nor a JSON object of at most 4 KB.`,
  )
}
