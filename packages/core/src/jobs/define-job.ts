import type { Expression } from 'kysely'
import type { z } from 'zod'
import { safeText } from '../validation/safe-text.js'
import { type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js'
import type { JobContext } from './job-context.js'
import { MAX_RETRY_LATER_MS } from './job-errors.js'
import type { AttemptError } from './queue-adapter.js'
import { describeOption, isNumberIn, MAX_TIMER_MS } from '../validation/number-in.js'

/**
 * What a job's handler does with one payload; a throw fails the attempt. `prepared` is what the
 * definition's `prepare` gave for this payload (`undefined` without one).
 */
export type JobHandler<S extends z.ZodType, P = undefined> = (
  payload: z.output<S>,
  job: JobContext,
  prepared: P,
) => Promise<void> | void

/**
 * Reads at once what the jobs of one claim need (their rows, say), before their handlers run:
 * one value per payload, in order, each handed to its job's handler. A throw fails the attempt of
 * each of these jobs, as a throw of its handler would. `carried` is what the claim itself read
 * for each payload when the definition has a {@link JobClaimRead} and the engine carries it
 * (`null` where it found no row); `undefined` when the engine does not, and `prepare` reads.
 */
export type JobPrepareHandler<S extends z.ZodType, P, R = never> = (
  payloads: readonly z.output<S>[],
  batch: Pick<JobContext, 'logger' | 'resolve'>,
  carried: readonly (Carried<R> | null)[] | undefined,
) => Promise<readonly P[]>

/** A row as its JSON carries it: dates as their ISO text, bigints as numbers; a tuple stays one. */
export type Carried<R> = R extends Date
  ? string
  : R extends bigint
    ? number
    : R extends readonly unknown[]
      ? { -readonly [K in keyof R]: Carried<R[K]> }
      : R extends object
        ? { [K in keyof R]: Carried<R[K]> }
        : R

/** The payload fields whose values are strings: what can key a {@link JobClaimRead}. */
type StringField<T> = {
  [K in keyof T & string]-?: T[K] extends string ? K : never
}[keyof T & string]

/**
 * A read of the app's database that a claim can carry for each of its jobs, so `prepare` gets
 * the rows without a statement of its own: the SQL queue on PostgreSQL runs it inside the claim's
 * statement; the other engines (SQLite, MariaDB, BullMQ, inline) hand `prepare` nothing and it
 * reads as it would without one. Each job's value is the read's first row as JSON (PostgreSQL's
 * `row_to_json`: numbers, strings, booleans and nested JSON, column names as keys; typed by
 * {@link Carried}), or `null`. A number JSON cannot hold exactly (a bigint past 2^53, a numeric
 * of more digits than a double keeps) is never rounded: that claim carries nothing and `prepare`
 * reads, with the driver's own types. Nor does a claim holding a job whose schema changes the key
 * field (a trim, a default): the read was keyed by the payload as stored.
 *
 * @example
 * ```ts
 * import { DATABASE, defineJob } from '@mortar/core'
 * import { expressionBuilder, type Kysely } from 'kysely'
 * import { z } from 'zod'
 *
 * interface Tables {
 *   orders: { id: string; total: number }
 * }
 *
 * export const invoice = defineJob({
 *   name: 'shop.invoice',
 *   schema: z.object({ orderId: z.string() }),
 *   claimRead: {
 *     key: 'orderId',
 *     select: (orderId) =>
 *       expressionBuilder<Tables, never>()
 *         .selectFrom('orders')
 *         .select(['id', 'total'])
 *         .where('id', '=', orderId),
 *   },
 *   prepare: async (payloads, batch, carried) => {
 *     if (carried !== undefined) return carried
 *     // An engine that carries no read: the same rows, read here in one statement.
 *     const ids = payloads.map((payload) => payload.orderId)
 *     const rows = await (batch.resolve(DATABASE).kysely as Kysely<Tables>)
 *       .selectFrom('orders')
 *       .select(['id', 'total'])
 *       .where('id', 'in', ids)
 *       .execute()
 *     return ids.map((id) => rows.find((row) => row.id === id) ?? null)
 *   },
 *   handler: (_payload, _job, order) => {
 *     if (order === null) return // deleted meanwhile
 *   },
 * })
 * ```
 */
export interface JobClaimRead<S extends z.ZodType, R> {
  /** The payload field whose value (a string) keys the read. */
  readonly key: StringField<z.output<S>>
  /**
   * The read for one job, given its key: a query of at most one row, built without a database
   * (kysely's `expressionBuilder`), compiled by the queue for its own.
   */
  readonly select: (key: Expression<string>) => Expression<R>
}

/**
 * What a job's `onDead` receives beside its payload: which job died, at which attempt, with the
 * error that ended it, a logger and a dependency scope of its own.
 */
export interface JobDeath
  extends Pick<JobContext, 'id' | 'name' | 'maxAttempts' | 'logger' | 'resolve'> {
  /**
   * The claim that ended it, from 1: past `maxAttempts` for `E_JOB_LOST` (no attempt ran then).
   */
  readonly attempt: number
  /**
   * Why it died: the handler's last error, or core's own (`E_JOB_LOST`: the workers of its
   * attempts died mid-job; `E_JOB_PAYLOAD`; `E_JOB_TIMEOUT`; a `completeWith` write that threw).
   */
  readonly error: AttemptError
}

/**
 * Told of a job's death, whatever ended it. `payload` is `undefined` when the stored payload no
 * longer fits the schema (`E_JOB_PAYLOAD`). A throw tells it again later; the job is recorded
 * dead only once this returned, so it may run more than once for one death: keep it idempotent.
 */
export type JobDeadHandler<S extends z.ZodType> = (
  payload: z.output<S> | undefined,
  job: JobDeath,
) => Promise<void> | void

/** Options of {@link defineJob}. */
export interface JobDefinitionInit<S extends z.ZodType, P = undefined, R = never> {
  /**
   * Unique in the app, at most 191 characters, without NUL or a lone surrogate; stored with each
   * job, so keep it stable.
   */
  readonly name: string
  /** Validates the payload at enqueue (a `ValidationError` then) and parses it again at run. */
  readonly schema: S
  /**
   * Attempts in all, the first included (default 5, at most 2^31 − 1); after the last failure
   * the job is dead.
   */
  readonly attempts?: number
  /** The wait between attempts: exponential with full jitter (defaults: 1 s base, 1 h cap). */
  readonly backoff?: BackoffOptions
  /**
   * Milliseconds one attempt may take (at most 2^31 − 1, Node's longest timer); then
   * `job.signal` aborts and the attempt fails.
   */
  readonly timeout?: number
  /**
   * Called once for the jobs of this definition that one claim took, before any of their
   * handlers: for a read every one of them needs, made in one statement instead of one per job
   * (a worker claims up to `batchSize` jobs at a time). What it gives is read when they were
   * claimed, not when each handler starts: a handler still checks what it must at the moment it
   * acts.
   */
  readonly prepare?: JobPrepareHandler<S, P, R>
  /**
   * A read the claim carries for `prepare` where the engine can (see {@link JobClaimRead}):
   * one statement a claim instead of two. Needs `prepare`, which reads itself elsewhere.
   */
  readonly claimRead?: JobClaimRead<S, R>
  readonly handler: JobHandler<S, P>
  /**
   * Runs when the job dies on any engine, whether its handler failed or core ended it without
   * running it (`E_JOB_LOST`, `E_JOB_PAYLOAD`): the place to record the end in the job's own rows.
   */
  readonly onDead?: JobDeadHandler<S>
}

/**
 * A job made by {@link defineJob}: its name, schema and settings, and the handler that runs it.
 * A module lists it in `jobs`; `enqueue` takes it with a payload typed from its schema.
 */
export interface JobDefinition<S extends z.ZodType = z.ZodType, P = unknown> {
  readonly name: string
  readonly schema: S
  readonly attempts: number
  readonly backoff: Required<BackoffOptions>
  readonly timeout: number | undefined
  // Method syntax: a list of jobs with different payloads stays assignable to JobDefinition[].
  prepare?(
    payloads: readonly z.output<S>[],
    batch: Pick<JobContext, 'logger' | 'resolve'>,
    carried: readonly unknown[] | undefined,
  ): Promise<readonly P[]>
  readonly claimRead?: {
    readonly key: string
    select(key: Expression<string>): Expression<unknown>
  }
  handler(payload: z.output<S>, job: JobContext, prepared: P): Promise<void> | void
  onDead?(payload: z.output<S> | undefined, job: JobDeath): Promise<void> | void
}

/** The payload `enqueue` takes for a job: its schema's input type. */
export type JobPayload<J> = J extends JobDefinition<infer S> ? z.input<S> : never

const DEFAULT_ATTEMPTS = 5
const MAX_NAME_LENGTH = 191
// Each row carries the name, and workers claim by it: a lone surrogate is stored as U+FFFD on
// every engine (the job was enqueued and never ran), a NUL failed every enqueue on PostgreSQL
// only.
const storableName = safeText({ max: MAX_NAME_LENGTH })
// The queue's `max_attempts` is an INTEGER column: past it PostgreSQL refuses every enqueue and
// MariaDB's INSERT IGNORE clamps the value with a warning.
const MAX_ATTEMPTS = 2_147_483_647

/**
 * Defines a background job: a name, a zod schema for its payload and a handler. Payloads are
 * validated when enqueued, so a bad one is an error at the call, never a job that fails later.
 * Execution is at least once: a handler must be safe to run again for the same payload.
 *
 * @example
 * ```ts
 * import { defineJob, defineModule, PermanentJobError } from '@mortar/core'
 * import { z } from 'zod'
 *
 * export const sendReceipt = defineJob({
 *   name: 'shop.send-receipt',
 *   schema: z.object({ orderId: z.string() }),
 *   attempts: 5,
 *   backoff: { baseMs: 1_000, maxMs: 3_600_000 },
 *   timeout: 30_000,
 *   async handler({ orderId }, job) {
 *     const mailer = job.resolve(MAILER)
 *     if (!(await mailer.canReach(orderId))) throw new PermanentJobError('bad address')
 *     await mailer.sendReceipt(orderId, { signal: job.signal })
 *   },
 * })
 *
 * export const shopModule = defineModule({ name: 'shop', register() {}, jobs: [sendReceipt] })
 * ```
 */
export function defineJob<S extends z.ZodType, P = undefined, R = never>(
  init: JobDefinitionInit<S, P, R>,
): JobDefinition<S, P> {
  const { name, schema, prepare, claimRead, handler, onDead } = init
  if (typeof name !== 'string' || name.trim() === '' || !storableName.safeParse(name).success) {
    throw new TypeError(
      `defineJob needs a non-empty name of at most ${MAX_NAME_LENGTH} characters, without NUL or a lone surrogate; got ${describeOption(name)}.`,
    )
  }
  if (typeof schema?.safeParse !== 'function') {
    throw new TypeError(`Job '${name}' needs a zod schema for its payload.`)
  }
  if (typeof handler !== 'function') {
    throw new TypeError(`Job '${name}' needs a handler(payload, job) function.`)
  }
  if (prepare !== undefined && typeof prepare !== 'function') {
    throw new TypeError(`Job '${name}': prepare must be a function(payloads, batch).`)
  }
  if (
    claimRead !== undefined &&
    (prepare === undefined ||
      typeof claimRead.key !== 'string' ||
      typeof claimRead.select !== 'function')
  ) {
    throw new TypeError(
      `Job '${name}': claimRead needs a payload field name as key, a select(key) function and a prepare to hand its rows to.`,
    )
  }
  if (onDead !== undefined && typeof onDead !== 'function') {
    throw new TypeError(`Job '${name}': onDead must be a function(payload, job).`)
  }
  const attempts = init.attempts ?? DEFAULT_ATTEMPTS
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) {
    throw new TypeError(
      `Job '${name}': attempts must be a whole number from 1 to ${MAX_ATTEMPTS}; got ${describeOption(attempts)}.`,
    )
  }
  const backoff = { ...DEFAULT_BACKOFF, ...init.backoff }
  // Each wait, checked alike: a maxMs of Infinity (or a string, which `>=` coerced) let a job's
  // later retries wait up to 2^47 ms, 4,400 years. A day at most, as for a RetryLaterJobError.
  if (
    !(Number.isFinite(backoff.baseMs) && Number.isFinite(backoff.maxMs)) ||
    !(backoff.baseMs >= 0 && backoff.baseMs <= backoff.maxMs) ||
    !(backoff.maxMs <= MAX_RETRY_LATER_MS)
  ) {
    throw new TypeError(
      `Job '${name}': backoff needs finite numbers 0 <= baseMs <= maxMs <= ${MAX_RETRY_LATER_MS} (a day); got baseMs ${String(backoff.baseMs)}, maxMs ${String(backoff.maxMs)}.`,
    )
  }
  const timeout = init.timeout
  if (
    timeout !== undefined &&
    // Past MAX_TIMER_MS a timer fires at once: every attempt would time out.
    !(isNumberIn(timeout, 0, MAX_TIMER_MS) && timeout > 0)
  ) {
    throw new TypeError(
      `Job '${name}': timeout must be a positive number of ms, at most ${MAX_TIMER_MS} (24.8 days); got ${describeOption(timeout)}.`,
    )
  }
  return Object.freeze({
    name,
    schema,
    attempts,
    backoff: Object.freeze(backoff),
    timeout,
    handler,
    ...(prepare === undefined ? {} : { prepare }),
    ...(claimRead === undefined ? {} : { claimRead }),
    ...(onDead === undefined ? {} : { onDead }),
  })
}
