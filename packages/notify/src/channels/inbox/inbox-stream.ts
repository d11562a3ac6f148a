import type { Inbox, InboxItem, InboxPosition } from './inbox-store.js'
import { SINCE_PAGE } from './inbox-store.js'

/**
 * How far behind its stamp an item may commit (a transaction in flight, or the writing server's
 * clock behind this one's) and still reach every live stream: each read of a stream looks this
 * far back, and sends what it finds unless this connection sent it already.
 */
export const STREAM_LOOKBACK_MS = 30_000

interface Subscriber {
  readonly recipientId: string
  /** The oldest stamp this connection sends: its cursor's, less the lookback. */
  readonly floor: number
  /**
   * Where a reconnect resumes (`@<ms>`, read from `cursor − STREAM_LOOKBACK_MS` again): every
   * item that committed by this instant has been sent on this connection.
   */
  cursor: number
  /** Reading what was written before it opened: live items wait in `held` until it ends. */
  catchingUp: boolean
  /**
   * Items this process wrote (or polled) while the catch-up read: a page may have been read
   * before one committed, so they are sent after the last page, never dropped.
   */
  readonly held: InboxItem[]
  /** Ids sent on this connection (by stamp), still inside the window a read looks at. */
  readonly seen: Map<string, number>
  readonly push: (items: readonly InboxItem[], cursor: number) => void
  readonly end: () => void
}

/** A live stream of the hub: its resume point, and how to stop it. */
export interface StreamSubscription {
  /** Where a reconnect resumes, in ms (see {@link STREAM_LOOKBACK_MS}). */
  readonly cursor: () => number
  readonly stop: () => void
}

/** How many live streams the process holds at most, in all and for one recipient. */
export interface StreamLimits {
  readonly perRecipient: number
  readonly total: number
}

/**
 * Fans new inbox items out to the live streams of this process: at once for items this process
 * writes, and by one shared poll (every `pollMs`, only while someone listens) for items other
 * processes write. At least once, by construction: every read (a stream's first, each poll)
 * looks {@link STREAM_LOOKBACK_MS} behind the instant the previous one started, so an item that
 * commits within that of its stamp is read after it committed, whatever newer items went first;
 * a reconnect reads that far behind its cursor again. A connection sends an item once; a
 * reconnect may send again what the last one sent, so clients drop repeated ids. Streams are
 * capped, per recipient and in all: each holds a connection, a timer and a place in the poll's
 * query. When the inbox is disposed (`app.stop()`) every stream ends and no other opens.
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
  /** When the last poll that worked started (or the hub): the next looks back from there. */
  #readAt = 0
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
   * Starts sending the recipient's items stamped from `resumeAt` (a cursor the client had; the
   * instant it opens by default, never later) less {@link STREAM_LOOKBACK_MS}, those written
   * before first, to `push` with the cursor a reconnect resumes from (and calls `end` if the hub
   * closes first); `'full'` when the limits leave no room for another stream (of this recipient
   * or at all), `'closed'` once the inbox is disposed.
   */
  subscribe(
    recipientId: string,
    push: (items: readonly InboxItem[], cursor: number) => void,
    end: () => void,
    limits: StreamLimits,
    resumeAt?: number,
  ): StreamSubscription | 'full' | 'closed' {
    if (this.#closed) return 'closed'
    const held = this.#perRecipient.get(recipientId) ?? 0
    if (held >= limits.perRecipient || this.#subscribers.size >= limits.total) return 'full'
    const now = this.#now()
    const cursor = resumeAt === undefined ? now : Math.min(resumeAt, now)
    const subscriber: Subscriber = {
      recipientId,
      floor: cursor - STREAM_LOOKBACK_MS,
      cursor,
      catchingUp: true,
      held: [],
      seen: new Map(),
      push,
      end,
    }
    this.#subscribers.add(subscriber)
    this.#perRecipient.set(recipientId, held + 1)
    if (this.#subscribers.size === 1) this.#start()
    void this.#catchUp(subscriber)
    return {
      cursor: () => subscriber.cursor,
      stop: () => {
        if (!this.#subscribers.delete(subscriber)) return
        const left = (this.#perRecipient.get(recipientId) ?? 1) - 1
        if (left === 0) this.#perRecipient.delete(recipientId)
        else this.#perRecipient.set(recipientId, left)
        if (this.#subscribers.size === 0) this.#stop()
      },
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
    // Items committed before now are the streams' own first reads' to find; after, the polls'.
    this.#readAt = this.#now()
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
   * A stream's first read: what was written from its floor on, page by page, however long ago
   * (a fresh stream's floor is the lookback, which also covers an item committing while the
   * client's page loaded). Live items wait meanwhile, then follow the pages.
   */
  async #catchUp(subscriber: Subscriber): Promise<void> {
    const startedAt = this.#now()
    let after: InboxPosition | undefined
    try {
      for (;;) {
        const items = await this.#inbox.since([subscriber.recipientId], subscriber.floor, after)
        if (!this.#subscribers.has(subscriber)) return
        this.#deliverTo(subscriber, items)
        after = items.at(-1)
        if (items.length < SINCE_PAGE || after === undefined) break
      }
      subscriber.catchingUp = false
      // Everything committed before the first page was read is sent now; later commits are the
      // polls' (held meanwhile, sent here).
      subscriber.cursor = Math.max(subscriber.cursor, startedAt)
      this.#deliverTo(subscriber, subscriber.held.splice(0))
    } catch (error) {
      // A stream that cannot read where it starts has a gap: end it, the client reconnects with
      // the same last event id and tries again.
      this.#onPollError(error)
      subscriber.end()
    }
  }

  async #poll(): Promise<void> {
    if (this.#polling || this.#subscribers.size === 0) return
    this.#polling = true
    const startedAt = this.#now()
    try {
      const recipients = [...new Set([...this.#subscribers].map((s) => s.recipientId))]
      // From the last poll that worked, not from now: a failed poll leaves no gap.
      const from = this.#readAt - STREAM_LOOKBACK_MS
      // Page through the window: a page cut off by the limit would otherwise be read again by
      // every poll, and the items after it never streamed.
      let after: InboxItem | undefined
      for (;;) {
        const items = await this.#inbox.since(recipients, from, after)
        this.#deliver(items)
        after = items.at(-1)
        if (items.length < SINCE_PAGE || after === undefined) break
      }
      this.#readAt = startedAt
      for (const subscriber of this.#subscribers)
        if (!subscriber.catchingUp) subscriber.cursor = Math.max(subscriber.cursor, startedAt)
      this.#failing = false
    } catch (error) {
      // The next poll tries again from where this one started, but a failing poll is said once:
      // until one works again, streams wait for other processes' items.
      if (!this.#failing) this.#onPollError(error)
      this.#failing = true
    } finally {
      this.#polling = false
    }
  }

  #deliver(items: readonly InboxItem[]): void {
    for (const subscriber of this.#subscribers) {
      if (!subscriber.catchingUp) this.#deliverTo(subscriber, items)
      else
        for (const item of items)
          if (item.recipientId === subscriber.recipientId) subscriber.held.push(item)
    }
  }

  #deliverTo(subscriber: Subscriber, items: readonly InboxItem[]): void {
    const fresh = items.filter(
      (item) =>
        item.recipientId === subscriber.recipientId &&
        item.createdAt.getTime() >= subscriber.floor &&
        !subscriber.seen.has(item.id),
    )
    // No read looks further back than this again (a catch-up's pages never repeat an item).
    const oldest = this.#readAt - STREAM_LOOKBACK_MS
    for (const [id, at] of subscriber.seen) if (at < oldest) subscriber.seen.delete(id)
    if (fresh.length === 0) return
    for (const item of fresh) subscriber.seen.set(item.id, item.createdAt.getTime())
    subscriber.push(fresh, subscriber.cursor)
  }
}
