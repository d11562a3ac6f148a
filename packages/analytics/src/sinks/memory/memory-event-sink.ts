import type {
  EventBatch,
  EventSink,
  FailedEvent,
  IdentityLink,
  SinkForgetReport,
  StoredEvent,
} from '../event-sink.js'

/**
 * An {@link EventSink} in memory, for tests and for plugin authors checking the conformance
 * kit against a known-good sink. Idempotent by event id and anonymous id like the SQL sink.
 *
 * @example
 * ```ts
 * import { MemoryEventSink } from '@mortar/analytics'
 *
 * const sink = new MemoryEventSink()
 * await sink.write({ id: 1, events: [], failed: [], links: [] })
 * sink.events // []
 * ```
 */
export class MemoryEventSink implements EventSink {
  readonly #events = new Map<string, StoredEvent>()
  readonly #failed = new Map<string, FailedEvent>()
  readonly #links = new Map<string, IdentityLink>()

  /** Every stored event, in the order first written. */
  get events(): readonly StoredEvent[] {
    return [...this.#events.values()]
  }

  /** Every failed event, in the order first written. */
  get failed(): readonly FailedEvent[] {
    return [...this.#failed.values()]
  }

  /** Every identity link, the first per anonymous id. */
  get links(): readonly IdentityLink[] {
    return [...this.#links.values()]
  }

  async write(batch: EventBatch): Promise<void> {
    for (const event of batch.events)
      if (!this.#events.has(event.id)) this.#events.set(event.id, event)
    for (const failed of batch.failed)
      if (!this.#failed.has(failed.id)) this.#failed.set(failed.id, failed)
    for (const link of batch.links) {
      if (!this.#links.has(link.anonymousId)) this.#links.set(link.anonymousId, link)
    }
  }

  async linkedAnonymousIds(userId: string): Promise<readonly string[]> {
    return this.links.filter((link) => link.userId === userId).map((link) => link.anonymousId)
  }

  async forgetAnonymous(
    anonymousIds: readonly string[],
  ): Promise<{ readonly events: number; readonly failedEvents: number }> {
    const ids = new Set(anonymousIds)
    const theirs = (entry: { userId: string | null; anonymousId: string | null }) =>
      entry.userId === null && entry.anonymousId !== null && ids.has(entry.anonymousId)
    return {
      events: deleteWhere(this.#events, theirs),
      failedEvents: deleteWhere(this.#failed, theirs),
    }
  }

  async forget(userId: string): Promise<SinkForgetReport> {
    const anonymous = new Set<string>()
    let identityLinks = 0
    for (const [anonymousId, link] of this.#links) {
      if (link.userId !== userId) continue
      anonymous.add(anonymousId)
      this.#links.delete(anonymousId)
      identityLinks++
    }
    // A linked anonymous id takes only the events no one was signed in for, as the SQL forget.
    const theirs = (entry: { userId: string | null; anonymousId: string | null }) =>
      entry.userId === userId ||
      (entry.userId === null && entry.anonymousId !== null && anonymous.has(entry.anonymousId))
    return {
      events: deleteWhere(this.#events, theirs),
      failedEvents: deleteWhere(this.#failed, theirs),
      identityLinks,
      anonymousIds: [...anonymous],
    }
  }
}

function deleteWhere<T>(entries: Map<string, T>, matches: (entry: T) => boolean): number {
  let deleted = 0
  for (const [id, entry] of entries) {
    if (!matches(entry)) continue
    entries.delete(id)
    deleted++
  }
  return deleted
}
