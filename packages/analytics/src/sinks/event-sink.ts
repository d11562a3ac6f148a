import type { ForgetCounts } from '../privacy/forget-user.js'
/**
 * What a sink's `forget` deleted: the counts `forgetUser` reports, and the anonymous ids whose
 * links to the user it deleted, which `forgetUser` then suppresses: an event with no user under
 * one of them is stored no more, by this sink or any other.
 */
export interface SinkForgetReport extends ForgetCounts {
  readonly anonymousIds: readonly string[]
}

/** One validated event as a sink stores it. */
export interface StoredEvent {
  /** A UUIDv7 made when the event was tracked; its timestamp is `occurredAt`. */
  readonly id: string
  readonly name: string
  /** When it happened, in milliseconds since the epoch. */
  readonly occurredAt: number
  readonly userId: string | null
  /** The visitor before sign-in: a cookieless daily id, or one the app supplied. */
  readonly anonymousId: string | null
  readonly sessionId: string | null
  /**
   * The client's IP address with its host part zeroed (IPv4 /24, IPv6 /48), as Google Analytics'
   * IP anonymisation keeps it: the network and so the region, not the person. The full address
   * is only hashed into the day's cookieless visitor id and never stored.
   */
  readonly ip: string | null
  /** The `user-agent` header, at most 512 characters. */
  readonly userAgent: string | null
  /** The country (ISO 3166-1 alpha-2, upper case) from the module's `country` lookup. */
  readonly country: string | null
  /** The properties as JSON, after the catalogue's schema (defaults applied, unknown keys stripped). */
  readonly properties: string
}

/**
 * An event its schema refused, kept with the reason as Snowplow keeps failed events. Its name,
 * user id and anonymous id are exactly as tracked, whatever their length or characters (why it
 * failed, maybe): a sink stores them whole, and its `forget` finds them by the whole id. Cut or
 * replaced to fit a column, two users' ids became one.
 */
export interface FailedEvent {
  readonly id: string
  readonly name: string
  readonly occurredAt: number
  readonly userId: string | null
  readonly anonymousId: string | null
  /** Why it failed: the schema's issues, or why the properties could not be serialised. */
  readonly reason: string
  /** The properties as tracked (JSON), or `null` when they could not be serialised. */
  readonly properties: string | null
}

/** An anonymous id known to belong to a user (from `identify` or `alias`). */
export interface IdentityLink {
  readonly anonymousId: string
  readonly userId: string
  readonly linkedAt: number
}

/** What one flush hands a sink; written as a unit and retried with the same `id`. */
export interface EventBatch {
  /** Unique per batch and stable across retries of it. */
  readonly id: number
  readonly events: readonly StoredEvent[]
  readonly failed: readonly FailedEvent[]
  readonly links: readonly IdentityLink[]
}

/**
 * What a sink's write did not store of the batch: events and failed events of an identity that
 * `forgetUser` suppressed after the tracker checked the batch (in another process, say). The
 * tracker counts them as skipped, not stored.
 */
export interface WriteOutcome {
  readonly suppressed: { readonly events: number; readonly failed: number }
}

/**
 * Where flushed events go. `write` stores a batch all or nothing and is idempotent: writing a
 * batch again (a retry after an unknown outcome) stores no event, failed event or link twice.
 * It rejects when the store is unreachable; the buffer keeps the batch and retries with
 * backoff. The built-in sink writes to the app's database (`COPY` on PostgreSQL, chunked
 * multi-row inserts on SQLite and MariaDB); `eventSinkConformance` from
 * `@mortar/analytics/testing` checks a sink of your own (a ClickHouse one, say).
 *
 * @example
 * ```ts
 * import type { EventBatch, EventSink } from '@mortar/analytics'
 *
 * class ConsoleSink implements EventSink {
 *   readonly seen = new Set<string>()
 *   async write(batch: EventBatch) {
 *     for (const event of batch.events) {
 *       if (this.seen.has(event.id)) continue
 *       this.seen.add(event.id)
 *       console.log(event.name, event.properties)
 *     }
 *   }
 * }
 * ```
 */
export interface EventSink {
  /** Stores the batch; resolves to a {@link WriteOutcome} when it left some of it out. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a sink that never leaves anything out resolves to nothing, as an `async write(): Promise<void>`
  write(batch: EventBatch): Promise<WriteOutcome | void>
  /**
   * The work of a write that needs no I/O, done ahead of it (encoding the rows, say): called
   * for a batch while the one before it is written, so that the two overlap; `write` follows
   * with the same batch, and must also work for a batch never prepared.
   */
  prepare?(batch: EventBatch): void
  /**
   * Whether a write error may pass by itself (an unreachable server): retried without limit.
   * Otherwise, and when this throws, the batch is retried five times, then reported dropped.
   */
  isTransient?(error: unknown): boolean
  /**
   * Deletes everything the sink holds about a user: their events and failed events, the events
   * no one was signed in for under every anonymous id linked to them, and those links; resolves
   * to what it deleted, those anonymous ids included (see {@link SinkForgetReport}). Called by
   * `forgetUser` after the buffer is flushed, and again by its `analytics.forget` job if the
   * first run did not finish or a write stored events of the user after it ran, so a later call
   * must delete what is left, written since included, and nothing else. A sink without it (or
   * without `linkedAnonymousIds` or `forgetAnonymous`) makes `forgetUser` throw
   * `AnalyticsForgetError` (the default SQL sink is erased by the module itself).
   */
  forget?(userId: string): Promise<SinkForgetReport>
  /**
   * Deletes the events and failed events with no user under these anonymous ids (ids once
   * linked to a user `forgetUser` erased), deleting nothing signed in; resolves to the counts.
   * Called by the `analytics.forget` job when a write stored such events after the user was
   * forgotten (a batch checked before the forget, written after the sink's `forget` ran): no
   * link names those ids any more, so `forget` cannot find them. A sink without it makes
   * `forgetUser` throw `AnalyticsForgetError`.
   */
  forgetAnonymous?(
    anonymousIds: readonly string[],
  ): Promise<{ readonly events: number; readonly failedEvents: number }>
  /**
   * The anonymous ids the sink holds links of to the user, deleting nothing: `forgetUser`
   * suppresses them before it calls `forget`, which deletes the links. Suppressed only after,
   * they were lost for good to a crash in between: a second `forget` finds no link.
   */
  linkedAnonymousIds?(userId: string): Promise<readonly string[]>
}
