import {
  ADDED_PAGE,
  type Inbox,
  type InboxChange,
  type InboxItem,
  type InboxVersionRange,
  type VersionedInboxItem,
} from './inbox-store.js'

/**
 * How far back a stream that has no version to resume from (a fresh one, one whose client sent
 * an event id of streams before versions) starts: the items stamped this long before it opened
 * are sent again, which covers an item committed while the client's page loaded.
 */
export const STREAM_LOOKBACK_MS = 30_000

// Changes heard ahead of a gap one stream keeps at most; past them the poll, which reads each
// gap whole, brings the rest.
const MAX_HELD = 1_000

interface Subscriber {
  readonly recipientId: string
  /**
   * The recipient's inbox version up to which this connection has sent every item: where a
   * reconnect resumes (`v<version>`). It only moves over versions whose changes it knows.
   */
  upTo: number
  /** Reading what was written before it opened: changes heard meanwhile wait in `held`. */
  catchingUp: boolean
  /**
   * Changes this process made past `upTo` + 1, by version (a gap before them is another
   * process's change, or one whose commit is told later): sent once the gap is known.
   */
  readonly held: Map<number, InboxItem | undefined>
  readonly push: (items: readonly VersionedInboxItem[]) => void
  readonly end: () => void
}

/** A live stream of the hub: its resume point, and how to stop it. */
export interface StreamSubscription {
  /** The version up to which every item was sent: where a reconnect resumes. */
  readonly cursor: () => number
  readonly stop: () => void
}

/** How many live streams the process holds at most, in all and for one recipient. */
export interface StreamLimits {
  readonly perRecipient: number
  readonly total: number
}

/**
 * Fans new inbox items out to the live streams of this process, by each recipient's inbox
 * version (every change raises it, and the version's row lock makes a recipient's changes
 * commit in version order): at once for changes this process makes, and by one shared poll
 * (every `pollMs`, only while someone listens) for other processes'. The poll reads the
 * watched recipients' versions, then the items added between what each stream has sent and
 * that version: all committed, whatever their transactions' length or time stamps, so none is
 * missed; and a stream sends only versions past its own, in order, so none twice, on a
 * connection or across a reconnect that resumes from its last event id. Streams are capped, per
 * recipient and in all: each holds a connection, a timer and a place in the poll's query. When
 * the inbox is disposed (`app.stop()`) every stream ends and no other opens.
 */
export class InboxStreamHub {
  readonly #inbox: Inbox
  readonly #pollMs: number
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
      /** Told when polls start failing (once, until one works again). */
      readonly onPollError: (error: unknown) => void
    },
  ) {
    this.#inbox = inbox
    this.#pollMs = options.pollMs
    this.#onPollError = options.onPollError
    inbox.onDispose(() => this.#close())
  }

  /**
   * Starts sending the recipient's items added after version `after`, those written before
   * first, to `push` (and calls `end` if the hub closes first); `'full'` when the limits leave
   * no room for another stream (of this recipient or at all), `'closed'` once the inbox is
   * disposed.
   */
  subscribe(
    recipientId: string,
    after: number,
    push: (items: readonly VersionedInboxItem[]) => void,
    end: () => void,
    limits: StreamLimits,
  ): StreamSubscription | 'full' | 'closed' {
    if (this.#closed) return 'closed'
    const held = this.#perRecipient.get(recipientId) ?? 0
    if (held >= limits.perRecipient || this.#subscribers.size >= limits.total) return 'full'
    const subscriber: Subscriber = {
      recipientId,
      upTo: after,
      catchingUp: true,
      held: new Map(),
      push,
      end,
    }
    this.#subscribers.add(subscriber)
    this.#perRecipient.set(recipientId, held + 1)
    if (this.#subscribers.size === 1) this.#start()
    void this.#catchUp(subscriber)
    return {
      cursor: () => subscriber.upTo,
      stop: () => {
        if (!this.#subscribers.delete(subscriber)) return
        const left = (this.#perRecipient.get(recipientId) ?? 1) - 1
        if (left === 0) this.#perRecipient.delete(recipientId)
        else this.#perRecipient.set(recipientId, left)
        if (this.#subscribers.size === 0) this.#stop()
      },
    }
  }

  /** True once the inbox is disposed: no stream opens. */
  get closed(): boolean {
    return this.#closed
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
    this.#unlisten = this.#inbox.onChanged((change) => this.#heard(change))
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
   * A stream's first read: the items after its version up to the recipient's version now, page
   * by page, however many. Changes heard meanwhile wait, then follow the pages.
   */
  async #catchUp(subscriber: Subscriber): Promise<void> {
    try {
      const upTo = (await this.#inbox.versions([subscriber.recipientId])).get(
        subscriber.recipientId,
      )
      await this.#read(
        [{ recipientId: subscriber.recipientId, after: subscriber.upTo, upTo: upTo ?? 0 }],
        [subscriber],
      )
      subscriber.catchingUp = false
      this.#sendHeld(subscriber)
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
    try {
      // Catching-up streams read up to a version of their own, then take the polls' next.
      const streams = [...this.#subscribers].filter((subscriber) => !subscriber.catchingUp)
      const versions = await this.#inbox.versions([
        ...new Set(streams.map((subscriber) => subscriber.recipientId)),
      ])
      const ranges = new Map<string, InboxVersionRange>()
      for (const subscriber of streams) {
        const upTo = versions.get(subscriber.recipientId) ?? 0
        const range = ranges.get(subscriber.recipientId)
        const after = Math.min(range?.after ?? subscriber.upTo, subscriber.upTo)
        ranges.set(subscriber.recipientId, { recipientId: subscriber.recipientId, after, upTo })
      }
      await this.#read([...ranges.values()], streams)
      this.#failing = false
    } catch (error) {
      // The next poll reads from where each stream is, so a failed one leaves no gap; it is
      // said once: until one works again, streams wait for other processes' items.
      if (!this.#failing) this.#onPollError(error)
      this.#failing = true
    } finally {
      this.#polling = false
    }
  }

  /**
   * Reads the items of `ranges` and sends them to `streams`. A page that holds them all ends
   * every range; a full one is read again a recipient at a time, so each page ends a range at
   * its last item's version.
   */
  async #read(ranges: readonly InboxVersionRange[], streams: readonly Subscriber[]): Promise<void> {
    const open = ranges.filter((range) => range.upTo > range.after)
    if (open.length === 0) return
    const all = await this.#inbox.added(open)
    if (all.length < ADDED_PAGE) {
      for (const range of open) this.#completed(range, all, streams)
      return
    }
    for (const range of open) {
      let after = range.after
      for (;;) {
        const page = await this.#inbox.added([{ ...range, after }])
        const last = page.at(-1)
        const full = page.length === ADDED_PAGE && last !== undefined
        after = full ? last.version : range.upTo
        this.#completed({ ...range, upTo: after }, page, streams)
        if (!full || after >= range.upTo) break
      }
    }
  }

  /** Every item of the recipient's versions up to `range.upTo` is in `items`: send them. */
  #completed(
    range: InboxVersionRange,
    items: readonly VersionedInboxItem[],
    streams: readonly Subscriber[],
  ): void {
    const mine = items.filter((entry) => entry.item.recipientId === range.recipientId)
    for (const subscriber of streams) {
      if (subscriber.recipientId !== range.recipientId || !this.#subscribers.has(subscriber))
        continue
      const fresh = mine.filter((entry) => entry.version > subscriber.upTo)
      for (const version of subscriber.held.keys())
        if (version <= range.upTo) subscriber.held.delete(version)
      subscriber.upTo = Math.max(subscriber.upTo, range.upTo)
      if (fresh.length > 0) subscriber.push(fresh)
      if (!subscriber.catchingUp) this.#sendHeld(subscriber)
    }
  }

  /** A change this process committed: sent at once to streams that know every one before it. */
  #heard(change: InboxChange): void {
    for (const subscriber of this.#subscribers) {
      if (subscriber.recipientId !== change.recipientId || change.version <= subscriber.upTo)
        continue
      if (subscriber.held.size < MAX_HELD) subscriber.held.set(change.version, change.item)
      if (!subscriber.catchingUp) this.#sendHeld(subscriber)
    }
  }

  /** Sends the held changes that follow the stream's version without a gap, in order. */
  #sendHeld(subscriber: Subscriber): void {
    const sent: VersionedInboxItem[] = []
    for (;;) {
      const next = subscriber.upTo + 1
      if (!subscriber.held.has(next)) break
      const item = subscriber.held.get(next)
      subscriber.held.delete(next)
      subscriber.upTo = next
      if (item !== undefined) sent.push({ item, version: next })
    }
    if (sent.length > 0) subscriber.push(sent)
  }
}
