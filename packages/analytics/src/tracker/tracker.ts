import { AsyncResource } from 'node:async_hooks'
import {
  afterCommit,
  type Clock,
  currentRequestContext,
  type Database,
  type EventBus,
  type Logger,
  type RequestContext,
} from '@mortar/core'
import type { z } from 'zod'
import {
  type Batch,
  type BufferOptions,
  type DropReason,
  EventBuffer,
  newBatchId,
  resolveBufferOptions,
} from '../buffer/index.js'
import { BUILT_IN_EVENTS } from '../catalog/built-in-events.js'
import type { EventSchemas } from '../catalog/define-events.js'
import { AnalyticsClosedError } from '../errors.js'
import type { ConsentOptions } from '../privacy/consent.js'
import {
  type CountryLookup,
  storedCountry,
  storedUserAgent,
  truncateIp,
} from '../privacy/request-fields.js'
import type { Suppressions } from '../privacy/suppressions.js'
import type { VisitorIds } from '../privacy/visitor-ids.js'
import type {
  EventBatch,
  EventSink,
  FailedEvent,
  IdentityLink,
  StoredEvent,
} from '../sinks/event-sink.js'
import { isStorable, isStorableJson, storable } from '../storage/storable-text.js'
import { uuidV7 } from './uuid-v7.js'

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
  /** A stable anonymous id of your own (a first-party cookie); a cookieless daily id otherwise. */
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
  /** Events dropped for this reason since the module started. */
  readonly total: number
}

/** Counters since the module started. */
export interface AnalyticsStats {
  /** Calls to track, identify, page, alias (and trackNow) that produced an event. */
  readonly tracked: number
  /** Events written to the sink. */
  readonly stored: number
  /** Events written to the failed-events table (their schema refused them). */
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
 * One queued event. Small on purpose: a burst queues many at once, and each lives until its
 * batch is written, so every field is memory the garbage collector copies. What only events of
 * a request (or with unusual options) carry sits in `details`, absent for the rest.
 */
interface PendingEvent {
  readonly name: string
  /** As given to track(): serialised off the calling path, when its batch is made. */
  readonly properties: unknown
  readonly at: number
  readonly userId: string | undefined
  readonly details: PendingDetails | undefined
  /** The properties as JSON once serialised (its length is the event's size in the buffer). */
  json: string | undefined
  /** Once validated: the JSON to store (the snapshot, or the schema's output where it differs). */
  stored: string | undefined
  /** Why the event fails (its time, its properties, its ids, its schema), once known. */
  problem: string | undefined
}

interface PendingDetails {
  /** Set for events whose id the caller needs at once (a page view's). */
  readonly id: string | undefined
  /** Why the given timestamp could not be used (`at` is then the capture time). */
  readonly timeProblem: string | undefined
  readonly anonymousId: string | undefined
  readonly sessionId: string | undefined
  /** The full address: hashed into the visitor id, stored truncated. */
  readonly ip: string | undefined
  readonly userAgent: string | undefined
  readonly country: string | undefined
}

const MAX_EVENT_BYTES = 32_768
const MAX_ID_LENGTH = 255
// The largest time a UUIDv7 carries (48 bits of milliseconds, the year 10889).
const MAX_TIME = 2 ** 48 - 1

/**
 * A `timestamp` option as the whole milliseconds an event is stored with (a fraction is cut),
 * or `undefined` when it is no storable time (an invalid Date, NaN, before 1970, past UUIDv7's
 * range): such an event is kept as failed, never let into a batch it would fail.
 */
export function eventTime(timestamp: Date | number): number | undefined {
  const ms = Math.floor(typeof timestamp === 'number' ? timestamp : timestamp.getTime())
  return ms >= 0 && ms <= MAX_TIME ? ms : undefined
}
const DROP_REASONS: readonly DropReason[] = ['overflow', 'write-failed', 'shutdown', 'closed']

/**
 * Records events without awaiting I/O: `track()` reads who the visitor is from the request
 * context and queues a small record in a bounded buffer, nothing more; the properties are
 * serialised when their batch is made and validated against the catalogue when it is written
 * (a refused event goes to the failed events with the reason). Inside a transaction of the app
 * database an event is queued only once it commits: a rolled-back checkout tracks nothing.
 */
export class Tracker {
  readonly #deps: TrackerDeps
  readonly #buffer: EventBuffer<PendingEvent>
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
    this.#buffer = new EventBuffer<PendingEvent>(resolveBufferOptions(deps.buffer), {
      write: (batch) => this.#detached(() => this.#writeBatch(batch)),
      size: (event) => {
        serialise(event)
        return (event.json?.length ?? 0) + event.name.length + 64
      },
      // A failure there is met again by the write, which prepares the batch anew.
      prepare: (batch) => void this.#prepared(batch),
      isTransient: (error) => deps.sink.isTransient?.(error) ?? false,
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
    })
  }

  /** Queues an event; see {@link Tracker}. Returns a promise only under the `block` policy with a full buffer. */
  track(
    name: string,
    properties: unknown,
    options?: TrackOptions,
    id?: string,
  ): Promise<void> | undefined {
    const event = this.#capture(name, properties, options, id)
    if (event === undefined) return undefined
    const database = this.#deps.database
    if (database?.inTransaction) {
      void afterCommit(() => this.#buffer.push(event))
      return undefined
    }
    return this.#buffer.push(event)
  }

  /**
   * Writes one event now and resolves once it is stored (or recorded as failed): for scripts and
   * jobs that end right after. Inside a transaction it is written in that transaction.
   */
  async trackNow(name: string, properties: unknown, options?: TrackOptions): Promise<void> {
    if (this.#closed) throw new AnalyticsClosedError('trackNow()')
    const event = this.#capture(name, properties, options, undefined)
    if (event === undefined) return
    const prepared = await this.#prepare([event], newBatchId())
    await this.#deps.sink.write(prepared)
    this.#count(prepared)
  }

  /** Resolves once every event tracked before the call is written, failed or reported dropped. */
  flush(options?: { readonly timeoutMs?: number }): Promise<void> {
    if (this.#closed) return Promise.reject(new AnalyticsClosedError('flush()'))
    return this.#buffer.flush(options)
  }

  /** Stops taking events and flushes until `deadlineMs`; what is left then is dropped and reported. */
  async close(deadlineMs: number): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#buffer.close(deadlineMs)
    this.#report()
  }

  stats(): AnalyticsStats {
    return {
      tracked: this.#tracked,
      stored: this.#stored,
      failed: this.#failed,
      dropped: { ...this.#dropped },
      skipped: { consent: this.#skippedConsent, suppressed: this.#skippedSuppressed },
      buffered: this.#buffer.held,
      blocked: this.#buffer.blocked,
    }
  }

  #capture(
    name: string,
    properties: unknown,
    options: TrackOptions | undefined,
    id: string | undefined,
  ): PendingEvent | undefined {
    const deps = this.#deps
    const context = currentRequestContext()
    let who: RequestIdentity | undefined
    let ip: string | undefined
    let userAgent: string | undefined
    let country: string | undefined
    let anonymous = false
    if (context !== undefined) {
      if (deps.consent !== undefined && !this.#granted(context)) {
        // identify() and alias() exist only to record who someone is.
        if (deps.consent.without === 'drop' || name === '$identify' || name === '$alias') {
          this.#skippedConsent++
          return undefined
        }
        anonymous = true
      } else {
        who = deps.identity(context)
        ip = context.ip
        userAgent = context.userAgent
        if (deps.country !== undefined && ip !== undefined) country = this.#country(ip, context)
      }
    }
    const timestamp = options?.timestamp
    const given = timestamp === undefined ? undefined : eventTime(timestamp)
    this.#tracked++
    // Without consent no id is recorded, not even one the caller passes.
    const userId = anonymous ? undefined : (options?.userId ?? who?.userId)
    const anonymousId = anonymous ? undefined : (options?.anonymousId ?? who?.anonymousId)
    const sessionId = anonymous ? undefined : (options?.sessionId ?? who?.sessionId)
    const timeProblem =
      timestamp !== undefined && given === undefined
        ? `The timestamp is not a time from 1970 to the year 10889: ${String(timestamp)}.`
        : undefined
    const details =
      id === undefined &&
      timeProblem === undefined &&
      anonymousId === undefined &&
      sessionId === undefined &&
      ip === undefined &&
      userAgent === undefined &&
      country === undefined
        ? undefined
        : { id, timeProblem, anonymousId, sessionId, ip, userAgent, country }
    return {
      name,
      properties,
      at: given ?? deps.clock.nowMs(),
      userId,
      details,
      json: undefined,
      stored: undefined,
      problem: undefined,
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

  async #writeBatch(batch: Batch<PendingEvent>): Promise<void> {
    const prepared = await this.#prepared(batch)
    await this.#deps.sink.write(prepared)
    this.#count(prepared)
  }

  /**
   * The batch as the sink takes it, prepared once (ahead of its write when the buffer stages it,
   * with the sink's own preparation): a retry writes the same events with the same ids.
   */
  #prepared(batch: Batch<PendingEvent>): Promise<EventBatch> {
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

  #count(batch: EventBatch): void {
    this.#stored += batch.events.length
    this.#failed += batch.failed.length
    if (batch.failed.length > 0) {
      this.#deps.logger.warn(
        { events: batch.failed.map((f) => f.name), reason: batch.failed[0]?.reason },
        `${batch.failed.length} analytics events failed their schema; they are in mortar_analytics_failed_event`,
      )
    }
  }

  /** Validates, derives visitor ids, drops forgotten users and collects identity links. */
  async #prepare(items: readonly PendingEvent[], batchId: number): Promise<EventBatch> {
    const deps = this.#deps
    const suppressed = deps.suppressions
      ? await deps.suppressions.among(items.map((item) => item.userId))
      : undefined
    const events: StoredEvent[] = []
    const failed: FailedEvent[] = []
    const links: IdentityLink[] = []
    for (const item of items) {
      serialise(item)
      if (item.userId !== undefined && suppressed?.has(item.userId)) {
        this.#skippedSuppressed++
        continue
      }
      const details = item.details
      const id = details?.id ?? uuidV7(item.at)
      let anonymousId = details?.anonymousId ?? null
      if (
        anonymousId === null &&
        details?.ip !== undefined &&
        details.userAgent !== undefined &&
        deps.visitorIds !== undefined
      ) {
        anonymousId = await deps.visitorIds.visitorId(item.at, details.ip, details.userAgent)
      }
      const userId = item.userId ?? null
      validate(deps.events, item)
      const properties = item.stored
      if (properties === undefined) {
        // What the event holds may be what no database takes: the record keeps a storable copy.
        failed.push({
          id,
          name: storable(item.name.slice(0, 255)),
          occurredAt: item.at,
          userId: userId === null ? null : storable(userId.slice(0, MAX_ID_LENGTH)),
          anonymousId: anonymousId === null ? null : storable(anonymousId.slice(0, MAX_ID_LENGTH)),
          reason: storable(item.problem ?? 'The event could not be validated.'),
          properties:
            item.json === undefined ? null : storable(item.json.slice(0, MAX_EVENT_BYTES)),
        })
        continue
      }
      events.push({
        id,
        name: item.name,
        occurredAt: item.at,
        userId,
        anonymousId,
        sessionId: details?.sessionId ?? null,
        properties,
        ip: details?.ip === undefined ? null : truncateIp(details.ip),
        userAgent: storedUserAgent(details?.userAgent),
        country: storedCountry(details?.country),
      })
      // identify() ties the visitor's anonymous id to the user; alias() ties the id it names.
      const linked =
        item.name === '$identify'
          ? anonymousId
          : item.name === '$alias'
            ? (JSON.parse(properties) as { previousId: string }).previousId
            : null
      if (userId !== null && linked !== null && linked !== userId) {
        links.push({ anonymousId: linked, userId, linkedAt: item.at })
      }
    }
    return { id: batchId, events, failed, links }
  }

  #drop(reason: DropReason, count: number): void {
    this.#dropped[reason] += count
    this.#unreported[reason] += count
    if (this.#reportScheduled) return
    this.#reportScheduled = true
    // One report per reason per tick, however many events went.
    setImmediate(() => this.#detached(() => this.#report()))
  }

  #report(): void {
    this.#reportScheduled = false
    for (const reason of DROP_REASONS) {
      const count = this.#unreported[reason]
      if (count === 0) continue
      this.#unreported[reason] = 0
      const report: DropReport = { reason, count, total: this.#dropped[reason] }
      this.#deps.logger.warn(report, `${count} analytics events dropped (${reason})`)
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
function serialise(event: PendingEvent): void {
  if (event.json !== undefined || event.problem !== undefined) return
  let reason: string
  try {
    event.json = JSON.stringify(event.properties ?? {})
    if (event.json !== undefined) return
    reason = 'The properties are not JSON-serialisable.'
  } catch (cause) {
    reason = `The properties could not be serialised as JSON: ${(cause as Error).message}`
  }
  // A timestamp that is no time is the first thing wrong with an event.
  event.problem = event.details?.timeProblem ?? reason
}

/**
 * Sets what the event stores (its properties as the schema outputs them, as JSON) or why it
 * fails; once. The outcome lives on the event itself: an object per outcome, kept while a burst
 * waits, was garbage collection the write path paid for.
 */
function validate(events: EventSchemas, item: PendingEvent): void {
  if (item.stored !== undefined || item.problem !== undefined) return
  item.problem = check(events, item)
}

/** Sets the properties as stored (the schema's output as JSON), or returns why the event fails. */
function check(events: EventSchemas, item: PendingEvent): string | undefined {
  serialise(item)
  const details = item.details
  if (details?.timeProblem !== undefined) return details.timeProblem
  if (item.json === undefined) return item.problem ?? 'The properties could not be serialised.'
  const badId =
    idProblem('user id', item.userId) ??
    idProblem('anonymous id', details?.anonymousId) ??
    idProblem('session id', details?.sessionId)
  if (badId !== undefined) return badId
  if (item.json.length > MAX_EVENT_BYTES) {
    return `The properties are ${item.json.length} characters of JSON, over the ${MAX_EVENT_BYTES} limit.`
  }
  const schema: z.ZodType | undefined = item.name.startsWith('$')
    ? (BUILT_IN_EVENTS as Readonly<Record<string, z.ZodType>>)[item.name]
    : Object.hasOwn(events, item.name)
      ? events[item.name]
      : undefined
  if (schema === undefined) {
    return `Unknown event '${item.name}': it is not in the event catalogue.`
  }
  // A flat object of JSON scalars reads back from its JSON as itself: validate it as given.
  const input: unknown = isFlatJson(item.properties) ? item.properties : JSON.parse(item.json)
  const parsed = schema.safeParse(input)
  if (!parsed.success) {
    const issues = parsed.error.issues.map(
      (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
    )
    return `Invalid properties: ${issues.join('; ')}`
  }
  // Most events come out of their schema unchanged: keep the snapshot instead of serialising again.
  const json = sameFlatObject(input, parsed.data) ? item.json : JSON.stringify(parsed.data)
  if (!isStorableJson(json)) {
    return 'The properties hold a NUL character (U+0000) or an unpaired surrogate.'
  }
  item.stored = json
  return undefined
}

function idProblem(field: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  if (value.length === 0 || value.length > MAX_ID_LENGTH) {
    return `The ${field} must be 1 to ${MAX_ID_LENGTH} characters.`
  }
  if (!isStorable(value)) {
    return `The ${field} holds a NUL character (U+0000) or an unpaired surrogate.`
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
