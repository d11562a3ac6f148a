import { AsyncResource } from 'node:async_hooks'
import {
  afterCommit,
  type Clock,
  currentRequestContext,
  type Database,
  type EventBus,
  type JsonChange,
  type Logger,
  type RequestContext,
  stringifyJson,
  thrownText,
} from '@mortar/core'
import type { z } from 'zod'
import {
  type Batch,
  type BufferHooks,
  type BufferOptions,
  type DropReason,
  EventBuffer,
  newBatchId,
  resolveBufferOptions,
  withDeadline,
} from '../buffer/index.js'
import { BUILT_IN_EVENTS } from '../catalog/built-in-events.js'
import type { EventSchemas } from '../catalog/define-events.js'
import {
  AnalyticsClosedError,
  AnalyticsIdentityError,
  FlushTimeoutError,
  WriteTimeoutError,
} from '../errors.js'
import type { ConsentOptions } from '../privacy/consent.js'
import {
  type CountryLookup,
  storedCountry,
  storedUserAgent,
  truncateIp,
} from '../privacy/request-fields.js'
import type { Suppressions } from '../privacy/suppressions.js'
import type { VisitorIds } from '../privacy/visitor-ids.js'
import {
  jsonDepth,
  MAX_EVENT_BYTES,
  MAX_ID_LENGTH,
  MAX_JSON_DEPTH,
  MAX_TIME,
  withinLimits,
} from '../storage/batch-limits.js'
import type {
  EventBatch,
  EventSink,
  FailedEvent,
  IdentityLink,
  StoredEvent,
  WriteOutcome,
} from '../sinks/event-sink.js'
import { fitsColumn, isStorable, isStorableJson, storable } from '../storage/storable-text.js'
import { type CapturedEvent, PendingEvents } from './pending-events.js'
import { uuidV7 } from '@mortar/core'

/** Who an event is about, overriding what the request context says. */
export interface TrackOptions {
  readonly userId?: string
  readonly anonymousId?: string
  readonly sessionId?: string
  /** When it happened; now by default (the app's `CLOCK`). */
  readonly timestamp?: Date | number
}

/** What the app knows about the visitor of a request. */
export interface RequestIdentity {
  readonly userId?: string | undefined
  /**
   * A stable anonymous id of your own (a first-party cookie), which `identify` links to the
   * user; a cookieless daily id otherwise, which it never links (one address, one browser: many
   * people).
   */
  readonly anonymousId?: string | undefined
  readonly sessionId?: string | undefined
}

/** Reads the visitor's identity from the request context. */
export type IdentityResolver = (context: RequestContext) => RequestIdentity | undefined

/** One report of dropped events, given to `onDrop` and published as `analytics.events_dropped`. */
export interface DropReport {
  readonly reason: DropReason
  /** Events dropped for this reason since the last report. */
  readonly count: number
  /**
   * Events reported dropped for this reason before whose write, answering after its deadline,
   * stored them after all, since the last report (absent when none): they count as stored now,
   * and no longer in `total` or `stats().dropped`.
   */
  readonly recovered?: number
  /** Events dropped for this reason since the module started, less those recovered. */
  readonly total: number
}

/** Counters since the module started. */
export interface AnalyticsStats {
  /** Calls to track, identify, page, alias (and trackNow) that produced an event. */
  readonly tracked: number
  /** Events the sink stored (not those it left out of a batch for a forgotten user: see `skipped`). */
  readonly stored: number
  /** Events stored in the failed-events table (their schema refused them). */
  readonly failed: number
  /** Events lost, by reason; each was reported. */
  readonly dropped: Readonly<Record<DropReason, number>>
  /** Events not recorded on purpose: no consent (`without: 'drop'`), or a forgotten user. */
  readonly skipped: { readonly consent: number; readonly suppressed: number }
  /** Events in the buffer now, queued or being written. */
  readonly buffered: number
  /** Callers waiting for room under the `block` policy. */
  readonly blocked: number
}

declare module '@mortar/core' {
  interface EventMap {
    /** Events were dropped (buffer full, store refusing, shutdown deadline); never silent. */
    'analytics.events_dropped': DropReport
  }
}

/** Everything the tracker is built from. */
export interface TrackerDeps {
  readonly events: EventSchemas
  readonly sink: EventSink
  readonly clock: Clock
  readonly logger: Logger
  readonly bus: EventBus | undefined
  readonly database: Database | undefined
  readonly visitorIds: VisitorIds | undefined
  readonly suppressions: Suppressions | undefined
  readonly buffer: BufferOptions | undefined
  readonly identity: IdentityResolver
  readonly consent: ConsentOptions | undefined
  readonly country: CountryLookup | undefined
  readonly onDrop: ((report: DropReport) => void) | undefined
}

/**
 * A `timestamp` option as the whole milliseconds an event is stored with (a fraction is cut),
 * or `undefined` when it is no storable time (an invalid Date, NaN, before 1970, past
 * 9999-12-30): such an event is kept as failed, never let into a batch it would fail.
 */
export function eventTime(timestamp: unknown): number | undefined {
  // Plain JavaScript or a JSON body may pass anything: only a number or a Date is a time.
  const raw =
    typeof timestamp === 'number'
      ? timestamp
      : timestamp instanceof Date
        ? timestamp.getTime()
        : Number.NaN
  const ms = Math.floor(raw)
  return ms >= 0 && ms <= MAX_TIME ? ms : undefined
}

/**
 * An id as stored, or why it cannot be: a string as given, a bigint or safe integer as its
 * digits. Every path that derives a user id goes through here: `String()` of NaN, Infinity or a
 * number past 2^53 (already rounded, so two users share it) would make a bogus or merged user.
 */
export function storedId(
  field: string,
  value: unknown,
): { readonly id: string | undefined; readonly problem?: string } {
  if (value === undefined || typeof value === 'string') return { id: value }
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) {
    return { id: String(value) }
  }
  if (typeof value === 'number') {
    return {
      id: undefined,
      problem: `The ${field} must be a string or a whole number from -(2^53 - 1) to 2^53 - 1 (pass a larger one as a string or bigint), not ${Number.isInteger(value) ? 'one past 2^53, already rounded' : String(value)}.`,
    }
  }
  return { id: undefined, problem: `The ${field} must be a string, not ${describe(value)}.` }
}

/** `value` as a stored user id ({@link storedId}), or an {@link AnalyticsIdentityError}. */
export function userIdOf(field: string, value: unknown): string {
  const checked = storedId(field, value)
  if (checked.id === undefined) {
    throw new AnalyticsIdentityError(checked.problem ?? `The ${field} is missing.`)
  }
  return checked.id
}

/** A value's kind for a failure reason: never its content, which may be anything. */
function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}
const DROP_REASONS: readonly DropReason[] = ['overflow', 'write-failed', 'shutdown', 'closed']

/** A batch as the sink stored it, and what it left out. */
interface Written {
  readonly prepared: EventBatch
  readonly outcome: WriteOutcome | undefined
}

/**
 * Records events without awaiting I/O: `track()` reads who the visitor is from the request
 * context and queues a small record in a bounded buffer, nothing more; the properties are
 * serialised when their batch is made and validated against the catalogue when it is written
 * (a refused event goes to the failed events with the reason). Inside a transaction of the app
 * database an event is queued only once it commits: a rolled-back checkout tracks nothing.
 */
export class Tracker {
  readonly #deps: TrackerDeps
  readonly #pending = new PendingEvents()
  /** Slots of {@link PendingEvents}. */
  readonly #buffer: EventBuffer<number, Written>
  /**
   * The collector's beacons, in a buffer of their own of the same size: any client can send
   * them, and a flood of them under `drop-oldest` evicted the server's own events.
   */
  readonly #beacons: EventBuffer<number, Written>
  readonly #writeTimeoutMs: number
  /** Writes to the sink not answered yet, those past their deadline included. */
  readonly #unanswered = new Set<Promise<unknown>>()
  readonly #dropped: Record<DropReason, number> = {
    overflow: 0,
    'write-failed': 0,
    shutdown: 0,
    closed: 0,
  }
  readonly #unreported: Record<DropReason, number> = {
    overflow: 0,
    'write-failed': 0,
    shutdown: 0,
    closed: 0,
  }
  readonly #unreportedRecovered: Record<DropReason, number> = {
    overflow: 0,
    'write-failed': 0,
    shutdown: 0,
    closed: 0,
  }
  /**
   * Events of a prepared batch left out for a forgotten user: counted as skipped once the batch
   * is written, never before (a batch dropped after its preparation counts them as dropped).
   */
  readonly #suppressedIn = new WeakMap<EventBatch, number>()
  #reportScheduled = false
  #tracked = 0
  #stored = 0
  #failed = 0
  #skippedConsent = 0
  #skippedSuppressed = 0
  #closed = false
  // Background writes run in the context the tracker was made in: never inside the request or
  // the transaction whose track() call happened to fill the batch.
  readonly #detached: <R>(fn: () => R) => R

  constructor(deps: TrackerDeps) {
    this.#deps = deps
    const resource = new AsyncResource('mortar.analytics.flush')
    this.#detached = (fn) => resource.runInAsyncScope(fn)
    const pending = this.#pending
    const options = resolveBufferOptions(deps.buffer)
    this.#writeTimeoutMs = options.writeTimeoutMs
    const hooks: BufferHooks<number, Written> = {
      write: (batch) => this.#answer(this.#detached(() => this.#writeBatch(batch))),
      onWritten: (batch, written, droppedAs) => {
        // Each event in one outcome: those reported dropped and stored after all move to stored.
        if (droppedAs !== undefined) this.#recover(droppedAs, batch.items.length)
        this.#count(written.prepared, written.outcome)
        if (droppedAs !== undefined) {
          deps.logger.warn(
            { events: batch.items.length },
            'Analytics events reported dropped were stored after all: their write answered after its deadline',
          )
        }
      },
      release: (items) => pending.release(items),
      size: (slot) => {
        serialise(pending, slot)
        return (pending.json[slot]?.length ?? 0) + (pending.names[slot]?.length ?? 0) + 64
      },
      // A failure there is met again by the write, which prepares the batch anew.
      prepare: (batch) => void this.#prepared(batch),
      isTransient: (error) => {
        try {
          return deps.sink.isTransient?.(error) ?? false
        } catch (thrown) {
          // The app's sink: a classifier that throws left the batch neither retried nor dropped,
          // its rejection unhandled (the process ends on one). Taken as not transient.
          deps.logger.error({ err: thrown }, "The analytics sink's isTransient threw")
          return false
        }
      },
      onDrop: (reason, items) => this.#drop(reason, items.length),
      onWriteError: (error, batch, retryInMs) => {
        if (retryInMs === undefined) {
          deps.logger.error(
            { err: error, events: batch.items.length },
            'Analytics events could not be written; the batch is dropped and reported',
          )
        } else if (batch.attempts === 1 || batch.attempts % 10 === 0) {
          deps.logger.warn(
            { err: error, events: batch.items.length, attempts: batch.attempts, retryInMs },
            'Analytics events could not be written; they stay buffered and are retried',
          )
        }
      },
    }
    this.#buffer = new EventBuffer(options, hooks)
    this.#beacons = new EventBuffer(options, hooks)
  }

  /** Queues an event; see {@link Tracker}. Returns a promise only under the `block` policy with a full buffer. */
  track(
    name: string,
    properties: unknown,
    options?: TrackOptions,
    id?: string,
  ): Promise<void> | undefined {
    return this.#queue(this.#buffer, name, properties, options, id)
  }

  /** Queues an event a client sent (the collector's beacons), apart from the server's own. */
  trackBeacon(name: string, properties: unknown): void {
    void this.#queue(this.#beacons, name, properties, undefined, undefined)
  }

  #queue(
    buffer: EventBuffer<number, Written>,
    name: string,
    properties: unknown,
    options: TrackOptions | undefined,
    id: string | undefined,
  ): Promise<void> | undefined {
    const event = this.#capture(name, properties, options, id)
    if (event === undefined) return undefined
    const database = this.#deps.database
    if (database?.inTransaction) {
      // A slot only once it commits: a rolled-back event would never give one back.
      void afterCommit(() => buffer.push(this.#pending.add(event)), { database })
      return undefined
    }
    return buffer.push(this.#pending.add(event))
  }

  /**
   * Writes one event now and resolves once it is stored (or recorded as failed): for scripts and
   * jobs that end right after. Inside a transaction it is written in that transaction.
   */
  async trackNow(name: string, properties: unknown, options?: TrackOptions): Promise<void> {
    if (this.#closed) throw new AnalyticsClosedError('trackNow()')
    const event = this.#capture(name, properties, options, undefined)
    if (event === undefined) return
    const slots = [this.#pending.add(event)]
    const write = this.#answer(
      (async (): Promise<Written> => {
        try {
          const prepared = await this.#prepare(slots, newBatchId())
          return { prepared, outcome: (await this.#deps.sink.write(prepared)) || undefined }
        } finally {
          // Only once the write answered: until then it may read them.
          this.#pending.release(slots)
        }
      })(),
    )
    const timeoutMs = this.#writeTimeoutMs
    let written: Written
    try {
      written = await withDeadline(write, timeoutMs, () => new WriteTimeoutError(1, timeoutMs))
    } catch (error) {
      // A write that answers after its deadline stored the event all the same: counted then.
      if (error instanceof WriteTimeoutError) {
        write.then((late) => this.#count(late.prepared, late.outcome)).catch(() => {})
      }
      throw error
    }
    this.#count(written.prepared, written.outcome)
  }

  /** Holds `write` among the unanswered writes until it settles (see {@link Tracker.settle}). */
  #answer<W>(write: Promise<W>): Promise<W> {
    this.#unanswered.add(write)
    const done = () => this.#unanswered.delete(write)
    write.then(done, done)
    return write
  }

  /**
   * Resolves once every event tracked before the call is written or dropped and no write to
   * the sink is left unanswered, not even one past its deadline: until then such a write may
   * still store events. It waits without bound; its caller sets one.
   */
  async settle(): Promise<void> {
    if (this.#closed) throw new AnalyticsClosedError('forgetUser()')
    await this.#flushBoth(undefined)
    await Promise.allSettled([...this.#unanswered])
  }

  /** Resolves once every event tracked before the call is written, failed or reported dropped. */
  flush(options?: { readonly timeoutMs?: number }): Promise<void> {
    if (this.#closed) return Promise.reject(new AnalyticsClosedError('flush()'))
    return this.#flushBoth(options)
  }

  async #flushBoth(options: { readonly timeoutMs?: number } | undefined): Promise<void> {
    const outcomes = await Promise.allSettled([
      this.#buffer.flush(options),
      this.#beacons.flush(options),
    ])
    let timedOut: FlushTimeoutError | undefined
    let pending = 0
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') continue
      if (!(outcome.reason instanceof FlushTimeoutError)) throw outcome.reason
      timedOut = outcome.reason
      pending += outcome.reason.pending
    }
    // One error for the call, counting what both buffers still hold.
    if (timedOut !== undefined) throw new FlushTimeoutError(pending, options?.timeoutMs ?? 0)
  }

  /** Stops taking events and flushes until `deadlineMs`; what is left then is dropped and reported. */
  async close(deadlineMs: number): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.all([this.#buffer.close(deadlineMs), this.#beacons.close(deadlineMs)])
    this.#report()
  }

  stats(): AnalyticsStats {
    return {
      tracked: this.#tracked,
      stored: this.#stored,
      failed: this.#failed,
      dropped: { ...this.#dropped },
      skipped: { consent: this.#skippedConsent, suppressed: this.#skippedSuppressed },
      buffered: this.#buffer.held + this.#beacons.held,
      blocked: this.#buffer.blocked + this.#beacons.blocked,
    }
  }

  #capture(
    name: string,
    properties: unknown,
    options: TrackOptions | undefined,
    id: string | undefined,
  ): CapturedEvent | undefined {
    const deps = this.#deps
    const context = currentRequestContext()
    let who: RequestIdentity | undefined
    let ip: string | undefined
    let userAgent: string | undefined
    let country: string | undefined
    let anonymous = false
    let unidentified: string | undefined
    if (context !== undefined) {
      if (deps.consent !== undefined && !this.#granted(context)) {
        // identify() and alias() exist only to record who someone is.
        if (deps.consent.without === 'drop' || name === '$identify' || name === '$alias') {
          this.#skippedConsent++
          return undefined
        }
        anonymous = true
      } else {
        try {
          who = deps.identity(context)
        } catch (error) {
          // The app's resolver (a session store that is down): the event is kept as failed with
          // the reason, never thrown into the handler (a checkout tracking its purchase).
          deps.logger.warn({ err: error }, 'The analytics identity resolver threw')
          unidentified = `The identity resolver threw: ${describeError(error)}`
        }
        ip = context.ip
        userAgent = context.userAgent
        if (deps.country !== undefined && ip !== undefined) country = this.#country(ip, context)
      }
    }
    const timestamp: unknown = options?.timestamp
    const given = timestamp === undefined ? undefined : eventTime(timestamp)
    this.#tracked++
    // Without consent no id is recorded, not even one the caller passes.
    let userId: unknown = anonymous ? undefined : (options?.userId ?? who?.userId)
    let anonymousId: unknown = anonymous ? undefined : (options?.anonymousId ?? who?.anonymousId)
    let sessionId: unknown = anonymous ? undefined : (options?.sessionId ?? who?.sessionId)
    let problem =
      unidentified ??
      (timestamp !== undefined && given === undefined
        ? `The timestamp is not a time from 1970 to 9999-12-30: ${timestamp instanceof Date || typeof timestamp === 'number' ? String(timestamp) : describe(timestamp)}.`
        : undefined)
    let stringName = name
    if (
      typeof name !== 'string' ||
      (userId !== undefined && typeof userId !== 'string') ||
      (anonymousId !== undefined && typeof anonymousId !== 'string') ||
      (sessionId !== undefined && typeof sessionId !== 'string')
    ) {
      // Past the types (plain JavaScript, a JSON body): every later step may assume strings, and
      // the event is kept as failed with the reason rather than failing the batch it joins.
      if (typeof name !== 'string') {
        stringName = `(${describe(name)})`
        problem ??= `The event name must be a string, not ${describe(name)}.`
      }
      const ids = [
        storedId('user id', userId),
        storedId('anonymous id', anonymousId),
        storedId('session id', sessionId),
      ] as const
      ;[userId, anonymousId, sessionId] = ids.map((checked) => checked.id)
      problem ??= ids.find((checked) => checked.problem !== undefined)?.problem
    }
    const details =
      id === undefined &&
      problem === undefined &&
      anonymousId === undefined &&
      sessionId === undefined &&
      ip === undefined &&
      userAgent === undefined &&
      country === undefined
        ? undefined
        : {
            id,
            problem,
            anonymousId: anonymousId as string | undefined,
            sessionId: sessionId as string | undefined,
            ip,
            userAgent,
            country,
          }
    return {
      name: stringName,
      properties,
      at: given ?? deps.clock.nowMs(),
      userId: userId as string | undefined,
      details,
    }
  }

  /** The app's consent check; one that throws is a refusal (and never reaches the handler). */
  #granted(context: RequestContext): boolean {
    try {
      return this.#deps.consent?.granted(context) === true
    } catch (error) {
      this.#deps.logger.warn({ err: error }, 'The analytics consent check threw; taken as refused')
      return false
    }
  }

  #country(ip: string, context: RequestContext): string | undefined {
    try {
      return this.#deps.country?.(ip, context)
    } catch (error) {
      // A broken lookup costs the column, never the event or the handler.
      this.#deps.logger.warn({ err: error }, 'The analytics country lookup threw')
      return undefined
    }
  }

  async #writeBatch(batch: Batch<number>): Promise<Written> {
    const prepared = await this.#prepared(batch)
    return { prepared, outcome: (await this.#deps.sink.write(prepared)) || undefined }
  }

  /**
   * The batch as the sink takes it, prepared once (ahead of its write when the buffer stages it,
   * with the sink's own preparation): a retry writes the same events with the same ids.
   */
  #prepared(batch: Batch<number>): Promise<EventBatch> {
    let prepared = batch.prepared as Promise<EventBatch> | undefined
    if (prepared === undefined) {
      prepared = this.#detached(() => this.#prepare(batch.items, batch.id)).then((events) => {
        this.#deps.sink.prepare?.(events)
        return events
      })
      batch.prepared = prepared
      // Prepared anew next time: a failed preparation stored nothing.
      prepared.catch(() => {
        if (batch.prepared === prepared) batch.prepared = undefined
      })
    }
    return prepared
  }

  #count(batch: EventBatch, outcome: WriteOutcome | undefined): void {
    // What the sink left out (a forget it met, in another process maybe) was never stored.
    const left = outcome?.suppressed ?? { events: 0, failed: 0 }
    this.#stored += batch.events.length - left.events
    this.#failed += batch.failed.length - left.failed
    this.#skippedSuppressed += left.events + left.failed + (this.#suppressedIn.get(batch) ?? 0)
    if (batch.failed.length > 0) {
      this.#deps.logger.warn(
        { events: batch.failed.map((f) => f.name), reason: batch.failed[0]?.reason },
        `${batch.failed.length} analytics events failed their schema; they are in mortar_analytics_failed_event`,
      )
    }
  }

  /** Validates, derives visitor ids, drops forgotten users and collects identity links. */
  async #prepare(slots: readonly number[], batchId: number): Promise<EventBatch> {
    const deps = this.#deps
    const pending = this.#pending
    const suppressed = deps.suppressions
      ? await deps.suppressions.among(
          slots.map((slot) => pending.userIds[slot]),
          slots.map((slot) => pending.details[slot]?.anonymousId),
        )
      : undefined
    const events: StoredEvent[] = []
    const failed: FailedEvent[] = []
    const links: IdentityLink[] = []
    let skipped = 0
    for (const slot of slots) {
      const name = pending.names[slot]
      // Freed meanwhile: the batch was dropped at shutdown while this ran.
      if (name === undefined) continue
      serialise(pending, slot)
      const userId = pending.userIds[slot] ?? null
      const details = pending.details[slot]
      // A forgotten user's, or one with no user under an anonymous id once linked to them. (A
      // cookieless id, made below, is never linked, so never suppressed.)
      if (
        userId === null
          ? details?.anonymousId !== undefined && suppressed?.anonymous.has(details.anonymousId)
          : suppressed?.users.has(userId)
      ) {
        skipped++
        continue
      }
      const at = pending.at[slot] as number
      const id = details?.id ?? uuidV7(at)
      let anonymousId = details?.anonymousId ?? null
      let cookieless = false
      if (
        anonymousId === null &&
        details?.ip !== undefined &&
        details.userAgent !== undefined &&
        deps.visitorIds !== undefined
      ) {
        anonymousId = await deps.visitorIds.visitorId(at, details.ip, details.userAgent)
        cookieless = anonymousId !== null
      }
      validate(deps.events, pending, slot)
      const properties = pending.stored[slot]
      if (properties === undefined) {
        const json = pending.json[slot]
        // Its name and ids as tracked, whatever no column holds: the sink keeps them whole.
        failed.push({
          id,
          name,
          occurredAt: at,
          userId,
          anonymousId,
          reason: storable(pending.problems[slot] ?? 'The event could not be validated.'),
          properties: json === undefined ? null : storable(json.slice(0, MAX_EVENT_BYTES)),
        })
        continue
      }
      events.push({
        id,
        name,
        occurredAt: at,
        userId,
        anonymousId,
        sessionId: details?.sessionId ?? null,
        properties,
        ip: details?.ip === undefined ? null : truncateIp(details.ip),
        userAgent: storedUserAgent(details?.userAgent),
        country: storedCountry(details?.country),
      })
      // identify() ties the visitor's anonymous id to the user; alias() ties the id it names. A
      // cookieless id is never tied: everyone behind one address with one browser shares it, so
      // the link made every anonymous visitor of the day the first user who signed in.
      const linked =
        name === '$identify'
          ? cookieless
            ? null
            : anonymousId
          : name === '$alias'
            ? (JSON.parse(properties) as { previousId: string }).previousId
            : null
      // An anonymous id of the user id's own text is linked too: it is another person until then.
      if (userId !== null && linked !== null) {
        links.push({ anonymousId: linked, userId, linkedAt: at })
      }
    }
    const batch = withinLimits({ id: batchId, events, failed, links })
    if (skipped > 0) this.#suppressedIn.set(batch, skipped)
    return batch
  }

  #drop(reason: DropReason, count: number): void {
    this.#dropped[reason] += count
    this.#unreported[reason] += count
    this.#scheduleReport()
  }

  /** Events reported dropped for `reason` that a late write stored: stored, not dropped. */
  #recover(reason: DropReason, count: number): void {
    this.#dropped[reason] -= count
    this.#unreportedRecovered[reason] += count
    this.#scheduleReport()
  }

  #scheduleReport(): void {
    if (this.#reportScheduled) return
    this.#reportScheduled = true
    // One report per reason per tick, however many events went.
    setImmediate(() => this.#detached(() => this.#report()))
  }

  #report(): void {
    this.#reportScheduled = false
    for (const reason of DROP_REASONS) {
      const count = this.#unreported[reason]
      const recovered = this.#unreportedRecovered[reason]
      if (count === 0 && recovered === 0) continue
      this.#unreported[reason] = 0
      this.#unreportedRecovered[reason] = 0
      const total = this.#dropped[reason]
      const report: DropReport =
        recovered === 0 ? { reason, count, total } : { reason, count, recovered, total }
      this.#deps.logger.warn(
        report,
        recovered === 0
          ? `${count} analytics events dropped (${reason})`
          : `${count} analytics events dropped (${reason}), ${recovered} reported before were stored after all`,
      )
      try {
        this.#deps.onDrop?.(report)
      } catch (error) {
        this.#deps.logger.error({ err: error }, 'The analytics onDrop hook threw')
      }
      void this.#deps.bus?.publish('analytics.events_dropped', report)
    }
  }
}

/** Sets the event's JSON, or why its properties have none; once. */
function serialise(pending: PendingEvents, slot: number): void {
  if (pending.json[slot] !== undefined || pending.problems[slot] !== undefined) return
  let reason: string
  try {
    const json = JSON.stringify(pending.properties[slot] ?? {}) as string | undefined
    if (json !== undefined) {
      pending.json[slot] = json
      return
    }
    reason = 'The properties are not JSON-serialisable.'
  } catch (cause) {
    reason = `The properties could not be serialised as JSON: ${describeError(cause)}`
  }
  // What capture found (a timestamp that is no time, an id that is no string) comes first.
  pending.problems[slot] = pending.details[slot]?.problem ?? reason
}

/** Sets what the event stores (its properties as the schema outputs them, as JSON) or why it fails; once. */
function validate(events: EventSchemas, pending: PendingEvents, slot: number): void {
  if (pending.stored[slot] !== undefined || pending.problems[slot] !== undefined) return
  try {
    pending.problems[slot] = check(events, pending, slot)
  } catch (cause) {
    // The app's schema (a transform or refinement that throws) or a getter of the properties:
    // one event's error must not fail the batch it came with.
    pending.stored[slot] = undefined
    pending.problems[slot] = `The event could not be validated: ${describeError(cause)}`
  }
}

function describeError(cause: unknown): string {
  return cause instanceof Error ? thrownText(cause) : describe(cause)
}

/** Sets the properties as stored (the schema's output as JSON), or returns why the event fails. */
function check(events: EventSchemas, pending: PendingEvents, slot: number): string | undefined {
  serialise(pending, slot)
  const details = pending.details[slot]
  if (details?.problem !== undefined) return details.problem
  const json = pending.json[slot]
  if (json === undefined) {
    return pending.problems[slot] ?? 'The properties could not be serialised.'
  }
  const badId =
    idProblem('user id', pending.userIds[slot]) ??
    idProblem('anonymous id', details?.anonymousId) ??
    idProblem('session id', details?.sessionId)
  if (badId !== undefined) return badId
  if (json.length > MAX_EVENT_BYTES) {
    return `The properties are ${json.length} characters of JSON, over the ${MAX_EVENT_BYTES} limit.`
  }
  const lossy = lossyJson(pending.properties[slot], json)
  if (lossy !== undefined) return lossy
  const name = pending.names[slot] as string
  const schema: z.ZodType | undefined = name.startsWith('$')
    ? (BUILT_IN_EVENTS as Readonly<Record<string, z.ZodType>>)[name]
    : Object.hasOwn(events, name)
      ? events[name]
      : undefined
  if (schema === undefined) {
    return `Unknown event '${name}': it is not in the event catalogue.`
  }
  const properties = pending.properties[slot]
  // A flat object of JSON scalars reads back from its JSON as itself: validate it as given.
  const input: unknown = isFlatJson(properties) ? properties : JSON.parse(json)
  const parsed = schema.safeParse(input)
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    )
    return `Invalid properties: ${issues.join('; ')}`
  }
  // Most events come out of their schema unchanged: keep the snapshot instead of serialising again.
  const flat = sameFlatObject(input, parsed.data)
  const stored = flat ? json : (JSON.stringify(parsed.data) as string | undefined)
  // The schema's output is what is stored: a transform may give what JSON changes (a NaN, a Set).
  const changed = flat ? undefined : lossyJson(parsed.data, stored)
  if (changed !== undefined) return `The schema's output: ${changed}`
  if (stored === undefined || !isStorableJson(stored)) {
    return 'The properties hold a NUL character (U+0000) or an unpaired surrogate.'
  }
  if (!flat) {
    const depth = jsonDepth(stored)
    if (depth > MAX_JSON_DEPTH) {
      return `The properties nest ${depth} levels deep, over the ${MAX_JSON_DEPTH} that every engine's JSON functions read.`
    }
  }
  pending.stored[slot] = stored
  return undefined
}

/**
 * Why the JSON of `properties` is not what was tracked, when JSON alone changed it without a
 * word: anything but an object at the top (the rollups and queries read keys of an object), a
 * NaN or an infinity written as null, as is an undefined, a function or a symbol in an array,
 * and an object whose `toJSON()` gives null (an invalid date); a built-in whose contents JSON
 * does not see (a Map, a Set, an Error, a typed array), written as an object of its enumerable
 * fields (`{}`); and a key `__proto__`, which turns into the prototype of the object every
 * schema and query reads back (a record schema's output lost it). Each is refused rather than
 * stored as something else; the walk runs only when the text or the top object can hide one.
 */
function lossyJson(properties: unknown, json: string | undefined): string | undefined {
  if (json === undefined || json[0] !== '{') {
    return 'The properties are not an object: JSON would store them as something else.'
  }
  if (json.includes('"__proto__"')) {
    let found = false
    JSON.parse(json, (key, value) => {
      if (key === '__proto__') found = true
      return value
    })
    if (found) {
      return 'The properties hold a key __proto__, which JavaScript objects read as their prototype.'
    }
  }
  // Each of those is written as null, or as an object (a `{` past the first character); a top
  // object of another class may itself be one.
  if (json.includes('null') || json.indexOf('{', 1) !== -1 || !isPlainRecord(properties)) {
    const { change } = stringifyJson(properties, { accept: storedAsWritten })
    if (change !== undefined) return `A property is ${changeInWords(change)}.`
  }
  return undefined
}

/**
 * What the tracker stores as JSON writes it, as it was tracked in all but form: -0 (JSON's one
 * zero), a field that is a function or a symbol (left out, as an optional field), a boxed
 * string, boolean or number (its primitive), a class instance (its fields) and what a toJSON()
 * gives other than null (a date's ISO text, a Buffer's { type, data }).
 */
function storedAsWritten(change: JsonChange): boolean {
  switch (change.kind) {
    case 'negative-zero':
    case 'dropped':
    case 'boxed':
    case 'instance':
      return true
    case 'to-json':
      return change.written !== null
    default:
      return false
  }
}

function changeInWords(change: JsonChange): string {
  const { given } = change
  const tag = Object.prototype.toString.call(given).slice(8, -1)
  switch (change.kind) {
    case 'not-finite':
      return `${typeof given === 'number' ? given : `a boxed ${Number(given)}`}, which JSON would store as null`
    case 'nulled':
      return `an array element ${typeof given}, which JSON would store as null`
    case 'to-json':
      return `a ${tag} whose toJSON() gives null (an invalid date), which JSON would store as null`
    default:
      return `a ${tag}, which JSON would store as an object without its contents`
  }
}

/** An object of Object's own class (or of none), as JSON writes its fields. */
function isPlainRecord(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function idProblem(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  if (!isStorable(value)) {
    return `The ${field} holds a NUL character (U+0000) or an unpaired surrogate.`
  }
  // Counted in characters (code points), as the column counts them.
  if (value.length === 0 || !fitsColumn(value, MAX_ID_LENGTH)) {
    return `The ${field} must be 1 to ${MAX_ID_LENGTH} characters.`
  }
  return undefined
}

/** A plain object whose own values are strings, finite numbers, booleans or null. */
function isFlatJson(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  const record = value as Record<string, unknown>
  for (const key in record) {
    const field = record[key]
    switch (typeof field) {
      case 'string':
      case 'boolean':
        continue
      case 'number':
        if (Number.isFinite(field) && !Object.is(field, -0)) continue
        return false
      case 'object':
        if (field === null) continue
        return false
      default:
        return false
    }
  }
  return true
}

/** Whether two objects have the same keys holding the same primitive values. */
function sameFlatObject(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  const left = a as Record<string, unknown>
  const right = b as Record<string, unknown>
  let count = 0
  for (const key in right) {
    const value = right[key]
    if (value !== null && typeof value === 'object') return false
    if (left[key] !== value) return false
    count++
  }
  for (const _ in left) count--
  return count === 0
}
