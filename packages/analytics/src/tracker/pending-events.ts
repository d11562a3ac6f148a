/** What the request context and options added to an event, when anything did. */
export interface PendingDetails {
  /** Set for events whose id the caller needs at once (a page view's). */
  readonly id: string | undefined
  /**
   * The first thing wrong with the event as given, found when it was captured: a timestamp that
   * is no time (`at` is then the capture time), a name or an id that is no string.
   */
  readonly problem: string | undefined
  readonly anonymousId: string | undefined
  readonly sessionId: string | undefined
  /** The full address: hashed into the visitor id, stored truncated. */
  readonly ip: string | undefined
  readonly userAgent: string | undefined
  readonly country: string | undefined
}

/** One event as track() captured it, before it is queued. */
export interface CapturedEvent {
  readonly name: string
  /** As given to track(): serialised off the calling path, when its batch is made. */
  readonly properties: unknown
  readonly at: number
  readonly userId: string | undefined
  readonly details: PendingDetails | undefined
}

/**
 * The events waiting to be written, a column per field, each event a slot number: the buffer
 * queues the numbers. A burst queues many events at once and each waits until its batch is
 * written; with an object per event, those objects lived through several scavenges, and
 * copying them was most of the garbage collection the write path paid for. A number held in
 * an array costs none of that. A slot is reused once its event is written or dropped; the
 * columns keep the length of the largest burst (at most the buffer's capacity).
 */
export class PendingEvents {
  readonly names: (string | undefined)[] = []
  readonly properties: unknown[] = []
  /** Milliseconds since the epoch; numbers only, so the array holds them unboxed. */
  readonly at: number[] = []
  readonly userIds: (string | undefined)[] = []
  readonly details: (PendingDetails | undefined)[] = []
  /** The properties as JSON once serialised (its length is the event's size in the buffer). */
  readonly json: (string | undefined)[] = []
  /** Once validated: the JSON to store (the snapshot, or the schema's output where it differs). */
  readonly stored: (string | undefined)[] = []
  /** Why the event fails (its time, its properties, its ids, its schema), once known. */
  readonly problems: (string | undefined)[] = []
  readonly #free: number[] = []
  #slots = 0

  /** Takes a slot for the event. */
  add(event: CapturedEvent): number {
    const slot = this.#free.length > 0 ? (this.#free.pop() as number) : this.#slots++
    this.names[slot] = event.name
    this.properties[slot] = event.properties
    this.at[slot] = event.at
    this.userIds[slot] = event.userId
    this.details[slot] = event.details
    this.json[slot] = undefined
    this.stored[slot] = undefined
    this.problems[slot] = undefined
    return slot
  }

  /** Frees the slots (written or dropped); a slot freed already is left alone. */
  release(slots: readonly number[]): void {
    for (const slot of slots) {
      if (this.names[slot] === undefined) continue
      this.names[slot] = undefined
      this.properties[slot] = undefined
      this.userIds[slot] = undefined
      this.details[slot] = undefined
      this.json[slot] = undefined
      this.stored[slot] = undefined
      this.problems[slot] = undefined
      this.#free.push(slot)
    }
  }
}
