// Every error of @mortar/analytics. The README lists each code; errors.test.ts checks the list.
import { MortarError, type MortarErrorOptions } from '@mortar/core'
import type { RefusedEntry } from './storage/batch-limits.js'

/**
 * The analytics module was given options it cannot work with: a batch larger than the buffer,
 * a time zone the runtime does not know, an event name that is not a valid identifier. Raised
 * when the module is created, so a bad deployment fails at start-up.
 *
 * @example
 * ```ts
 * import { AnalyticsConfigError, analyticsModule, defineEvents } from '@mortar/analytics'
 *
 * try {
 *   analyticsModule({ events: defineEvents({}), timeZone: 'Mars/Olympus' })
 * } catch (error) {
 *   if (error instanceof AnalyticsConfigError) console.error(error.message)
 * }
 * ```
 */
export class AnalyticsConfigError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_ANALYTICS_CONFIG', 500, message, options)
  }
}

/**
 * `flush({ timeoutMs })` passed its deadline with events still buffered (the database is
 * down, say). Nothing was dropped: the events stay buffered and are written when it is back.
 *
 * @example
 * ```ts
 * import { FlushTimeoutError } from '@mortar/analytics'
 *
 * try {
 *   await analytics.flush({ timeoutMs: 2_000 })
 * } catch (error) {
 *   if (error instanceof FlushTimeoutError) console.warn(`${error.pending} events still buffered`)
 * }
 * ```
 */
export class FlushTimeoutError extends MortarError {
  /** Events tracked before the flush call that were not written yet. */
  readonly pending: number

  constructor(pending: number, timeoutMs: number) {
    super(
      'E_ANALYTICS_FLUSH_TIMEOUT',
      503,
      `flush() waited ${timeoutMs} ms and ${pending} events are still buffered; they stay buffered and are retried (is the database reachable?).`,
      { details: { pending, timeoutMs } },
    )
    this.pending = pending
  }
}

/**
 * A write to the analytics sink did not answer within `buffer.writeTimeoutMs` (a store that
 * hangs). In the buffer the attempt counts as failed: retried, and after five the batch is
 * dropped and reported (`write-failed`). From `trackNow()`: the event may yet be stored by the
 * write still running, once; it is never written twice.
 *
 * @example
 * ```ts
 * import { WriteTimeoutError } from '@mortar/analytics'
 *
 * try {
 *   await analytics.trackNow('cart_added', { productId: 'p-42' })
 * } catch (error) {
 *   if (error instanceof WriteTimeoutError) console.warn('the analytics store is not answering')
 * }
 * ```
 */
export class WriteTimeoutError extends MortarError {
  constructor(events: number, timeoutMs: number) {
    super(
      'E_ANALYTICS_WRITE_TIMEOUT',
      503,
      `A write of ${events} analytics events had no answer after ${timeoutMs} ms (is the store hanging?); it counts as failed and is retried, then dropped and reported.`,
      { details: { events, timeoutMs } },
    )
  }
}

/**
 * `forgetUser` did not finish within its `timeoutMs`: a write of the app's events (the
 * user's, maybe) had no answer, or the store did not. Nothing is reported erased, and what
 * was erased stays erased; call it again (with a sink of the app's own, its recorded
 * `analytics.forget` job also runs it again).
 *
 * @example
 * ```ts
 * import { ForgetTimeoutError } from '@mortar/analytics'
 *
 * try {
 *   await analytics.forgetUser(user.id, { timeoutMs: 10_000 })
 * } catch (error) {
 *   if (error instanceof ForgetTimeoutError) console.warn('erasure not finished; try again')
 * }
 * ```
 */
export class ForgetTimeoutError extends MortarError {
  constructor(timeoutMs: number) {
    super(
      'E_ANALYTICS_FORGET_TIMEOUT',
      503,
      `forgetUser() did not finish within ${timeoutMs} ms (a write or the store had no answer); the user is not reported forgotten: call it again.`,
      { details: { timeoutMs } },
    )
  }
}

/**
 * A query was given arguments it cannot answer: a range whose end is not after its start, a
 * funnel without steps, an unknown event name from untyped code.
 *
 * @example
 * ```ts
 * import { AnalyticsQueryError } from '@mortar/analytics'
 *
 * try {
 *   await analytics.series('product_viewed', { from: to, to: from })
 * } catch (error) {
 *   if (error instanceof AnalyticsQueryError) console.error(error.message)
 * }
 * ```
 */
export class AnalyticsQueryError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_ANALYTICS_QUERY', 422, message, options)
  }
}

/**
 * A user id that cannot be stored as given: a principal or `forgetUser` id that is NaN,
 * Infinity, a fraction or a number past 2^53 (JavaScript has already rounded it, so two users
 * would share it). Pass such an id as a string or a bigint. From the default identity resolver,
 * the event is kept as failed with this message as its reason.
 *
 * @example
 * ```ts
 * import { AnalyticsIdentityError } from '@mortar/analytics'
 *
 * await analytics.forgetUser(Number.NaN as unknown as string).catch((error) => error instanceof AnalyticsIdentityError)
 * ```
 */
export class AnalyticsIdentityError extends MortarError {
  constructor(message: string) {
    super('E_ANALYTICS_IDENTITY', 422, message)
  }
}

/**
 * The analytics instance was used after `app.stop()` closed it: `trackNow()`, `flush()` or a
 * query on a stopped app. (`track()` never throws: after close its events are counted as
 * dropped with the reason `closed`.)
 *
 * @example
 * ```ts
 * import { AnalyticsClosedError } from '@mortar/analytics'
 *
 * await app.stop()
 * await analytics.trackNow('job_finished', {}).catch((error) => error instanceof AnalyticsClosedError)
 * ```
 */
export class AnalyticsClosedError extends MortarError {
  constructor(what: string) {
    super(
      'E_ANALYTICS_CLOSED',
      503,
      `${what} was called after the analytics module stopped; start a new app.`,
    )
  }
}

/**
 * `forgetUser` was asked to erase a user while the module's sink has no `forget` of its own (or
 * no `linkedAnonymousIds`, which the erasure reads first, or no `forgetAnonymous`, which erases
 * anonymous events written after it): it holds events the module cannot delete, so the erasure
 * is refused before anything is done, never reported as done. Implement `EventSink.forget`,
 * `EventSink.linkedAnonymousIds` and `EventSink.forgetAnonymous` on the sink (`sink` names it).
 *
 * @example
 * ```ts
 * import { AnalyticsForgetError } from '@mortar/analytics'
 *
 * await analytics.forgetUser('u-1').catch((error) => error instanceof AnalyticsForgetError)
 * ```
 */
export class AnalyticsForgetError extends MortarError {
  /** The class name of the sink that cannot forget. */
  readonly sink: string

  constructor(sink: string) {
    super(
      'E_ANALYTICS_FORGET',
      501,
      `The analytics sink ${sink} lacks forget(), linkedAnonymousIds() or forgetAnonymous(): it cannot erase a user, so nothing was erased. Implement all three on it.`,
    )
    this.sink = sink
  }
}

/**
 * `SqlEventSink.write` was given a batch holding entries that some engine would refuse or change
 * (a name past 100 characters, an event's id past 255, a fractional time, a U+0000; a failed
 * event keeps any text whole): those were not
 * written, the rest of the batch was, in its transaction. Thrown after the write, the same on
 * SQLite, PostgreSQL and MariaDB; `refused` says which entries and why. Batches the tracker
 * makes never hold such entries.
 *
 * @example
 * ```ts
 * import { AnalyticsBatchError } from '@mortar/analytics'
 *
 * await sink.write(batch).catch((error) => {
 *   if (error instanceof AnalyticsBatchError) console.warn(error.refused)
 * })
 * ```
 */
export class AnalyticsBatchError extends MortarError {
  /** The entries not written, by list and place in it, with the limit each breaks. */
  readonly refused: readonly RefusedEntry[]

  constructor(refused: readonly RefusedEntry[]) {
    const [first] = refused
    super(
      'E_ANALYTICS_BATCH',
      422,
      `${refused.length} entries of the batch break the analytics tables' limits and were not written; the rest of the batch was. The first: ${first?.kind} ${first?.index}: ${first?.reason}`,
      { details: { refused } },
    )
    this.refused = refused
  }
}
