import {
  comparePositions,
  type Inbox,
  type InboxItem,
  type InboxPosition,
  SINCE_PAGE,
} from './inbox-store.js'

interface Subscriber {
  readonly recipientId: string
  /** Where the stream starts, exclusive: what the client saw last, or the instant it opened. */
  readonly after: InboxPosition
  /** Reading what was written before it opened: live items wait in `held` until it ends. */
  catchingUp: boolean
  /**
   * Items this process wrote (or polled) while the catch-up read: a page may have been read
   * before one committed, so they are sent after the last page, never dropped.
   */
  readonly held: InboxItem[]
  readonly seen: Map<string, number>
  readonly push: (items: readonly InboxItem[]) => void
  readonly end: () => void
}

// Items are stamped when written and may commit a little later: each poll looks back this far.
const LOOKBACK_MS = 10_000

/** How many live streams the process holds at most, in all and for one recipient. */
export interface StreamLimits {
  readonly perRecipient: number
  readonly total: number
}

/**
 * Fans new inbox items out to the live streams of this process: at once for items this process
 * writes, and by one shared poll (every `pollMs`, only while someone listens) for items other
 * processes write. Each stream gets an item once. Streams are capped, per recipient and in all:
 * each holds a connection, a timer and a place in the poll's query. When the inbox is disposed
 * (`app.stop()`) every stream ends and no other opens.
 */
export class InboxStreamHub {
  readonly #inbox: Inbox
  readonly #pollMs: number
  readonly #now: () => number
  readonly #subscribers = new Set<Subscriber>()
  readonly #perRecipient = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  #unlisten: (() => void) | undefined
  readonly #onPollError: (error: unknown) => void
  #polling = false
  #failing = false
  #closed = false

  constructor(
    inbox: Inbox,
    options: {
      readonly pollMs: number
      readonly now: () => number
      /** Told when polls start failing (once, until one works again). */
      readonly onPollError: (error: unknown) => void
    },
  ) {
    this.#inbox = inbox
    this.#pollMs = options.pollMs
    this.#now = options.now
    this.#onPollError = options.onPollError
    inbox.onDispose(() => this.#close())
  }

  /**
   * Starts sending the recipient's items after the position `after` (what the client saw last;
   * the instant it opens by default), in position order from there, however long ago, to `push`
   * (and calls `end` if the hub closes first); returns the function that stops it, `'full'` when
   * the limits leave no room for another stream (of this recipient or at all), `'closed'` once
   * the inbox is disposed.
   */
  subscribe(
    recipientId: string,
    push: (items: readonly InboxItem[]) => void,
    end: () => void,
    limits: StreamLimits,
    after?: InboxPosition,
  ): (() => void) | 'full' | 'closed' {
    if (this.#closed) return 'closed'
    const held = this.#perRecipient.get(recipientId) ?? 0
    if (held >= limits.perRecipient || this.#subscribers.size >= limits.total) return 'full'
    const now = this.#now()
    const subscriber: Subscriber = {
      recipientId,
      after:
        after === undefined || after.createdAt.getTime() > now
          ? { createdAt: new Date(now), id: '' }
          : after,
      catchingUp: after !== undefined,
      held: [],
      seen: new Map(),
      push,
      end,
    }
    this.#subscribers.add(subscriber)
    this.#perRecipient.set(recipientId, held + 1)
    if (this.#subscribers.size === 1) this.#start()
    if (subscriber.catchingUp) void this.#catchUp(subscriber)
    return () => {
      if (!this.#subscribers.delete(subscriber)) return
      const left = (this.#perRecipient.get(recipientId) ?? 1) - 1
      if (left === 0) this.#perRecipient.delete(recipientId)
      else this.#perRecipient.set(recipientId, left)
      if (this.#subscribers.size === 0) this.#stop()
    }
  }

  #close(): void {
    this.#closed = true
    this.#stop()
    const ending = [...this.#subscribers]
    this.#subscribers.clear()
    this.#perRecipient.clear()
    for (const subscriber of ending) subscriber.end()
  }

  #start(): void {
    this.#unlisten = this.#inbox.onAdded((item) => this.#deliver([item]))
    this.#timer = setInterval(() => void this.#poll(), this.#pollMs)
    this.#timer.unref()
  }

  #stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#unlisten?.()
    this.#unlisten = undefined
  }

  /**
   * Sends a resumed stream what was written since its client's last event, page by page, however
   * long ago that was: the shared poll looks back only `LOOKBACK_MS`. Live items wait meanwhile
   * (the pages hold them too), so the client gets everything in order, once.
   */
  async #catchUp(subscriber: Subscriber): Promise<void> {
    let after = subscriber.after
    try {
      for (;;) {
        const items = await this.#inbox.since(
          [subscriber.recipientId],
          after.createdAt.getTime(),
          after,
        )
        if (!this.#subscribers.has(subscriber)) return
        this.#deliverTo(subscriber, items, this.#now())
        const last = items.at(-1)
        if (items.length < SINCE_PAGE || last === undefined) break
        after = last
      }
      subscriber.catchingUp = false
      const held = subscriber.held.splice(0).sort(comparePositions)
      this.#deliverTo(subscriber, held, this.#now())
    } catch (error) {
      // Resuming from a point the stream cannot read is a gap: end it, the client reconnects
      // with the same last event id and tries again.
      this.#onPollError(error)
      subscriber.end()
    }
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#subscribers.size === 0) return
    this.#polling = true
    try {
      const recipients = [...new Set([...this.#subscribers].map((s) => s.recipientId))]
      const oldest = Math.min(...[...this.#subscribers].map((s) => s.after.createdAt.getTime()))
      const from = Math.max(oldest, this.#now() - LOOKBACK_MS)
      // Page through the window: a page cut off by the limit would otherwise be read again by
      // every poll, and the items after it never streamed.
      let after: InboxItem | undefined
      for (;;) {
        const items = await this.#inbox.since(recipients, from, after)
        this.#deliver(items)
        after = items.at(-1)
        if (items.length < SINCE_PAGE || after === undefined) break
      }
      this.#failing = false
    } catch (error) {
      // The next poll tries again (a stream is best effort on top of the stored inbox), but a
      // failing poll is said once: until it works again, streams miss other processes' items.
      if (!this.#failing) this.#onPollError(error)
      this.#failing = true
    } finally {
      this.#polling = false
    }
  }

  #deliver(items: readonly InboxItem[]): void {
    const now = this.#now()
    for (const subscriber of this.#subscribers) {
      if (!subscriber.catchingUp) this.#deliverTo(subscriber, items, now)
      else
        for (const item of items)
          if (item.recipientId === subscriber.recipientId) subscriber.held.push(item)
    }
  }

  #deliverTo(subscriber: Subscriber, items: readonly InboxItem[], now: number): void {
    const fresh = items.filter(
      (item) =>
        item.recipientId === subscriber.recipientId &&
        comparePositions(item, subscriber.after) > 0 &&
        !subscriber.seen.has(item.id),
    )
    for (const [id, at] of subscriber.seen)
      if (at < now - 2 * LOOKBACK_MS) subscriber.seen.delete(id)
    if (fresh.length === 0) return
    for (const item of fresh) subscriber.seen.set(item.id, item.createdAt.getTime())
    subscriber.push(fresh)
  }
}
