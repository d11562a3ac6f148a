import { randomInt } from 'node:crypto'
import { FlushTimeoutError, WriteTimeoutError } from '../errors.js'
import { withDeadline } from './deadline.js'

/**
 * What a full buffer does with one more event:
 * - `'drop-oldest'`: drops the oldest queued event to make room (the default: recent data wins);
 * - `'drop-newest'`: drops the new event;
 * - `'block'`: `track()` returns a promise that settles once the event is admitted, so a caller
 *   that awaits it slows down to the database's pace; at most `capacity` callers wait, past
 *   that the new event is dropped.
 *
 * Every drop is counted and reported (`onDrop` and the `analytics.events_dropped` event).
 */
export type OverflowPolicy = 'block' | 'drop-oldest' | 'drop-newest'

/**
 * Why events were dropped: `overflow` (the buffer was full), `write-failed` (the store refused
 * a batch for a reason other than being unreachable, or did not answer within `writeTimeoutMs`,
 * five times), `shutdown` (still buffered
 * when `app.stop()`'s flush deadline passed, a write with no answer by then included: it may yet
 * have stored them), `closed` (tracked after the module stopped).
 */
export type DropReason = 'overflow' | 'write-failed' | 'shutdown' | 'closed'

/** Options of the event buffer; every field has a default. */
export interface BufferOptions {
  /** The most events held at once, queued and being written (default 10,000). */
  readonly capacity?: number
  /** A write starts when this many events are queued, and takes at most this many (default 1,000). */
  readonly batchSize?: number
  /**
   * A write starts when this many bytes of properties are queued, and takes at most this many
   * (default 1 MiB); measured as JSON once a tick, off the calling path.
   */
  readonly batchBytes?: number
  /** The longest an event waits before a write starts, in milliseconds (default 1,000). */
  readonly maxAgeMs?: number
  /** What a full buffer does; see {@link OverflowPolicy} (default `'drop-oldest'`). */
  readonly overflow?: OverflowPolicy
  /** First retry delay after a failed write, doubled each time up to `retryMaxMs` (default 100). */
  readonly retryBaseMs?: number
  /** Longest retry delay, in milliseconds (default 10,000). */
  readonly retryMaxMs?: number
  /**
   * The longest one write may take, in milliseconds (default 30,000): past it the attempt
   * counts as failed (a {@link WriteTimeoutError}), retried, and after five the batch is
   * dropped and reported as `write-failed`. A store that hangs never answers: without a
   * deadline, the buffer filled behind it and dropped everything after.
   */
  readonly writeTimeoutMs?: number
}

/** A group of items written together; retried as a unit with the same id. */
export interface Batch<T> {
  /** Stable across retries, so a store can make the write idempotent. */
  readonly id: number
  readonly items: readonly T[]
  /** Failed attempts so far. */
  attempts: number
  /** For the writer: what it prepared from the items (ahead of the write, or on the first attempt). */
  prepared?: unknown
}

/** What happened to a batch: being written (or queued), written, or dropped and reported. */
type BatchState = 'writing' | 'written' | DroppedState

/** Dropped and reported, for this reason. */
interface DroppedState {
  readonly dropped: DropReason
}

/** One attempt at a batch: past its deadline, or waiting for a write to answer. */
interface Attempt {
  expired: boolean
  wake: (() => void) | undefined
}

/** What the buffer calls; `R` is what a write resolves to. */
export interface BufferHooks<T, R = void> {
  /** The item's size against `batchBytes`; asked more than once for an item, so cache it. */
  size(item: T): number
  /**
   * Writes the batch. It may be called again for the same batch while an earlier call still
   * runs (that one passed its deadline): the store must then store it once.
   */
  write(batch: Batch<T>): Promise<R>
  /**
   * Once per batch, for the first write of it that succeeded. `droppedAs` is the reason the
   * batch was dropped and reported under already (every attempt passed its deadline, or
   * shutdown's) when this write answered after, having stored it all the same: its items are
   * written, no longer dropped, so the caller moves them from that count to the written.
   */
  onWritten(batch: Batch<T>, result: R, droppedAs: DropReason | undefined): void
  /**
   * The batch's items are no longer needed: written, or dropped with no write of them still
   * running (a write that passed its deadline may still read them).
   */
  release(items: readonly T[]): void
  /**
   * The work of a write done ahead of it (validation, encoding): called once for the next batch
   * as soon as it is formed, while the batch before it is written, so that the work overlaps
   * the store's. Its write may start before that work is done (and the write must then wait
   * for it); a batch prepared is written, retried or dropped like any other.
   */
  prepare?(batch: Batch<T>): void
  /** Whether a write error may pass by itself (the database is unreachable): retried forever. */
  isTransient(error: unknown): boolean
  onDrop(reason: DropReason, items: readonly T[]): void
  onWriteError(error: unknown, batch: Batch<T>, retryInMs: number | undefined): void
}

const MAX_ATTEMPTS = 5
/**
 * Writes left unanswered at once (each past its deadline, or still within it): past that, an
 * attempt waits for one of them to answer, its deadline running, rather than call a store that
 * answers none: each call holds its batch, and they piled up for as long as it hung.
 */
const MAX_UNANSWERED = 5

interface ResolvedOptions {
  readonly capacity: number
  readonly batchSize: number
  readonly batchBytes: number
  readonly maxAgeMs: number
  readonly overflow: OverflowPolicy
  readonly retryBaseMs: number
  readonly retryMaxMs: number
  readonly writeTimeoutMs: number
}

interface InFlight<T> extends Batch<T> {
  readonly firstSeq: number
  state: BatchState
  /** Writes of it not answered yet. */
  calls: number
  released: boolean
}

interface FlushWaiter {
  readonly target: number
  readonly resolve: () => void
}

interface BlockedItem<T> {
  readonly item: T
  readonly resolve: () => void
}

/** Resolves {@link BufferOptions} with their defaults, checking them. */
export function resolveBufferOptions(options: BufferOptions = {}): ResolvedOptions {
  const resolved: ResolvedOptions = {
    capacity: options.capacity ?? 10_000,
    batchSize: options.batchSize ?? 1_000,
    batchBytes: options.batchBytes ?? 1_048_576,
    maxAgeMs: options.maxAgeMs ?? 1_000,
    overflow: options.overflow ?? 'drop-oldest',
    retryBaseMs: options.retryBaseMs ?? 100,
    retryMaxMs: options.retryMaxMs ?? 10_000,
    writeTimeoutMs: options.writeTimeoutMs ?? 30_000,
  }
  return resolved
}

/**
 * A bounded FIFO of events written in batches by one writer at a time. A write starts when
 * `batchSize` events or `batchBytes` bytes are queued, when the oldest has waited `maxAgeMs`,
 * or on `flush()`, and takes at most `batchSize` events and `batchBytes` bytes. Pushing only
 * counts: sizes are measured once a tick, off the calling path. While a batch is written, the
 * next one due is formed and prepared (see {@link BufferHooks.prepare}); it counts against
 * `capacity` and is no longer queued, so `drop-oldest` does not take from it. A failed write is
 * retried with exponential backoff and full jitter while the events stay counted against
 * `capacity`; the overflow policy decides what gives when it is full. Its timers are unref'd:
 * they never keep a process alive.
 */
export class EventBuffer<T, R = void> {
  readonly #options: ResolvedOptions
  readonly #hooks: BufferHooks<T, R>
  #queue: T[] = []
  #head = 0
  /** Bytes of the queued items measured so far (those up to sequence `#measuredSeq`). */
  #queuedBytes = 0
  #measuredSeq = 0
  #measureScheduled = false
  #blocked: BlockedItem<T>[] = []
  /** Items ever admitted to the queue; an item's sequence number is this count after it. */
  #admitted = 0
  /** Items that left the queue (to a batch or dropped), in order. */
  #dequeued = 0
  #inFlight: InFlight<T> | undefined
  /** The batch after the one in flight, formed early so that it is prepared during that write. */
  #next: InFlight<T> | undefined
  #prepareScheduled = false
  #flushWaiters: FlushWaiter[] = []
  #drainTarget = 0
  #ageTimer: NodeJS.Timeout | undefined
  #retryTimer: NodeJS.Timeout | undefined
  #pumpScheduled = false
  #closed = false
  #abandoned = false
  /** Referenced while someone awaits this buffer: the process must not exit under a flush. */
  #keepAlive: NodeJS.Timeout | undefined
  /** Writes called and not answered, of every batch. */
  #unanswered = 0
  #waitingForCall: (() => void)[] = []

  constructor(options: ResolvedOptions, hooks: BufferHooks<T, R>) {
    this.#options = options
    this.#hooks = hooks
  }

  /** Events queued, being written and waiting to be admitted. */
  get held(): number {
    return (
      this.#queue.length -
      this.#head +
      (this.#inFlight?.items.length ?? 0) +
      (this.#next?.items.length ?? 0)
    )
  }

  /** Events waiting for room under the `block` policy. */
  get blocked(): number {
    return this.#blocked.length
  }

  /**
   * Adds an item. Returns `undefined` once it is queued (or dropped and reported); under the
   * `block` policy with a full buffer, a promise that settles when it is admitted.
   */
  push(item: T): Promise<void> | undefined {
    if (this.#closed) {
      this.#drop('closed', [item])
      return undefined
    }
    if (this.held >= this.#options.capacity) {
      switch (this.#options.overflow) {
        case 'drop-newest':
          this.#drop('overflow', [item])
          return undefined
        case 'drop-oldest': {
          if (this.#queue.length - this.#head === 0) {
            // Everything held is being written or prepared: the new one is the only one that can go.
            this.#drop('overflow', [item])
            return undefined
          }
          const oldest = this.#take(1)
          this.#drop('overflow', oldest)
          break
        }
        case 'block':
          if (this.#blocked.length >= this.#options.capacity) {
            this.#drop('overflow', [item])
            return undefined
          }
          this.#holdProcess()
          return new Promise<void>((resolve) => {
            this.#blocked.push({ item, resolve })
          })
      }
    }
    this.#admit(item)
    return undefined
  }

  /**
   * Resolves once every item pushed before the call is written or dropped. With `timeoutMs`,
   * rejects with a `FlushTimeoutError` past it, leaving the items buffered.
   */
  flush(options: { readonly timeoutMs?: number } = {}): Promise<void> {
    const target = this.#admitted + this.#blocked.length
    if (this.#flushedUpTo(target)) return Promise.resolve()
    this.#drainTarget = Math.max(this.#drainTarget, target)
    let waiter: FlushWaiter | undefined
    const done = new Promise<void>((resolve) => {
      waiter = { target, resolve }
      this.#flushWaiters.push(waiter)
    })
    this.#holdProcess()
    this.#schedulePump()
    const timeoutMs = options.timeoutMs
    if (timeoutMs === undefined) return done
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        // A caller that gave up no longer holds the process.
        this.#flushWaiters = this.#flushWaiters.filter((entry) => entry !== waiter)
        this.#releaseProcess()
        reject(new FlushTimeoutError(this.#pendingUpTo(target), timeoutMs))
      }, timeoutMs)
      timer.unref()
    })
    return Promise.race([done, deadline]).finally(() => clearTimeout(timer))
  }

  /**
   * Stops taking items (later ones are dropped as `closed`), flushes until `deadlineMs`, then
   * drops what is left as `shutdown`, the batch of a write still running included (it is left
   * to finish, and may yet store it).
   */
  async close(deadlineMs: number): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    try {
      await this.flush({ timeoutMs: deadlineMs })
    } catch (error) {
      if (!(error instanceof FlushTimeoutError)) throw error
      this.#abandon()
    } finally {
      clearTimeout(this.#ageTimer)
      this.#ageTimer = undefined
    }
  }

  #abandon(): void {
    this.#abandoned = true
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    const left: T[] = this.#take(this.#queue.length - this.#head)
    const blocked = this.#blocked.splice(0)
    for (const { item } of blocked) left.push(item)
    const next = this.#next
    this.#next = undefined
    if (next !== undefined) {
      next.state = { dropped: 'shutdown' }
      left.unshift(...next.items)
    }
    const stalled = this.#inFlight
    if (stalled !== undefined) {
      // Waiting out a backoff (nothing will send it now), or written with no answer by the
      // deadline: a store that hangs never answers, and the process may end once stop()
      // returns, so it is reported now. A write that answers later has stored it all the same.
      this.#inFlight = undefined
      stalled.state = { dropped: 'shutdown' }
      this.#hooks.onDrop('shutdown', stalled.items)
      this.#releaseIfIdle(stalled)
    }
    for (const { resolve } of this.#flushWaiters.splice(0)) resolve()
    this.#releaseProcess()
    if (left.length > 0) this.#drop('shutdown', left)
    // A blocked track() settles once its event is dropped too: it never waits for room again.
    for (const { resolve } of blocked) resolve()
  }

  // The timers are unref'd so an idle buffer never keeps a process alive; but a caller awaiting
  // flush() (or a blocked track()) must get its answer before the process may end.
  #holdProcess(): void {
    this.#keepAlive ??= setInterval(() => {}, 1 << 30)
  }

  #releaseProcess(): void {
    if (this.#flushWaiters.length > 0 || this.#blocked.length > 0) return
    clearInterval(this.#keepAlive)
    this.#keepAlive = undefined
  }

  #admit(item: T): void {
    const wasEmpty = this.#queue.length === this.#head
    this.#queue.push(item)
    this.#admitted++
    if (this.#queue.length - this.#head >= this.#options.batchSize) {
      this.#schedulePump()
    } else {
      if (wasEmpty && this.#ageTimer === undefined) {
        this.#ageTimer = setTimeout(this.#onAge, this.#options.maxAgeMs)
        this.#ageTimer.unref()
      }
      if (!this.#measureScheduled) {
        this.#measureScheduled = true
        setImmediate(this.#measure).unref()
      }
    }
  }

  /**
   * Sizes what was queued since the last time, once per tick rather than in push(), and starts
   * a write when the queued bytes reach `batchBytes`.
   */
  readonly #measure = (): void => {
    this.#measureScheduled = false
    this.#measureHead()
    if (this.#queuedBytes >= this.#options.batchBytes) this.#pump()
  }

  /**
   * Sizes the queued items not measured yet, up to one batch from the head: a write starts by
   * then anyway, and the items behind are measured as the head reaches them. Measuring a burst
   * all at once made every item's serialised form live until its batch was written.
   */
  #measureHead(): void {
    const end = Math.min(this.#admitted, this.#dequeued + this.#options.batchSize)
    let seq = Math.max(this.#measuredSeq, this.#dequeued)
    for (; seq < end; seq++) {
      this.#queuedBytes += this.#hooks.size(this.#queue[this.#head + seq - this.#dequeued] as T)
    }
    this.#measuredSeq = Math.max(this.#measuredSeq, seq)
  }

  readonly #onAge = (): void => {
    this.#ageTimer = undefined
    this.#drainTarget = Math.max(this.#drainTarget, this.#admitted)
    this.#pump()
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return
    this.#pumpScheduled = true
    // Not synchronously: events tracked in the same tick join the batch.
    setImmediate(this.#onScheduledPump).unref()
  }

  readonly #onScheduledPump = (): void => {
    this.#pumpScheduled = false
    this.#pump()
  }

  /** Takes `count` items off the head of the queue. */
  #take(count: number): T[] {
    const items = this.#queue.slice(this.#head, this.#head + count)
    const measured = Math.min(items.length, this.#measuredSeq - this.#dequeued)
    for (let i = 0; i < measured; i++) this.#queuedBytes -= this.#hooks.size(items[i] as T)
    this.#head += items.length
    this.#dequeued += items.length
    if (this.#head > 1_024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head)
      this.#head = 0
    }
    return items
  }

  #pump(): void {
    if (this.#inFlight !== undefined) {
      this.#stage()
      return
    }
    const next = this.#next
    if (next !== undefined) {
      this.#next = undefined
      this.#inFlight = next
      void this.#write(next)
      this.#stage()
      return
    }
    const batch = this.#form()
    if (batch === undefined) return
    this.#inFlight = batch
    this.#admitBlocked()
    void this.#write(batch)
    this.#stage()
  }

  /** Forms the batch after the one in flight, when one is due, and has it prepared. */
  #stage(): void {
    if (this.#hooks.prepare === undefined || this.#next !== undefined || this.#abandoned) return
    const batch = this.#form()
    if (batch === undefined) return
    this.#next = batch
    if (this.#prepareScheduled) return
    this.#prepareScheduled = true
    // After this turn: the write just started sends its data first.
    setImmediate(this.#prepareNext).unref()
  }

  // Once per staged batch: another is staged only after this one has gone in flight.
  readonly #prepareNext = (): void => {
    this.#prepareScheduled = false
    if (this.#next !== undefined) this.#hooks.prepare?.(this.#next)
  }

  /**
   * Takes the next batch off the queue when one is due (a full batch queued, or a flush or the
   * age asking for what is there); otherwise arms the age timer.
   */
  #form(): InFlight<T> | undefined {
    const queued = this.#queue.length - this.#head
    if (queued === 0) {
      if (this.#inFlight === undefined) this.#afterSettle()
      return undefined
    }
    this.#measureHead()
    const draining = this.#dequeued < this.#drainTarget
    const full = queued >= this.#options.batchSize || this.#queuedBytes >= this.#options.batchBytes
    if (!draining && !full) {
      if (this.#ageTimer === undefined && !this.#closed) {
        this.#ageTimer = setTimeout(this.#onAge, this.#options.maxAgeMs)
        this.#ageTimer.unref()
      }
      return undefined
    }
    let count = 0
    let bytes = 0
    const limit = Math.min(queued, this.#options.batchSize)
    while (count < limit) {
      const size = this.#hooks.size(this.#queue[this.#head + count] as T)
      if (count > 0 && bytes + size > this.#options.batchBytes) break
      bytes += size
      count++
    }
    const firstSeq = this.#dequeued + 1
    const items = this.#take(count)
    return {
      id: newBatchId(),
      items,
      attempts: 0,
      firstSeq,
      state: 'writing',
      calls: 0,
      released: false,
    }
  }

  /** Drops items no write of which runs, reporting them. */
  #drop(reason: DropReason, items: readonly T[]): void {
    this.#hooks.onDrop(reason, items)
    this.#hooks.release(items)
  }

  /**
   * One attempt at the batch, within `writeTimeoutMs`. A write that answers after its deadline
   * still counts when it succeeded: it ends the batch (never written again), or, when the batch
   * was dropped meanwhile, is reported as stored late.
   */
  async #write(batch: InFlight<T>): Promise<void> {
    const attempt: Attempt = { expired: false, wake: undefined }
    try {
      await withDeadline(this.#call(batch, attempt), this.#options.writeTimeoutMs, () => {
        attempt.expired = true
        const wake = attempt.wake
        if (wake !== undefined) {
          this.#waitingForCall = this.#waitingForCall.filter((each) => each !== wake)
          wake()
        }
        return new WriteTimeoutError(batch.items.length, this.#options.writeTimeoutMs)
      })
    } catch (error) {
      this.#failed(batch, error)
    }
  }

  async #call(batch: InFlight<T>, attempt: Attempt): Promise<void> {
    while (this.#unanswered >= MAX_UNANSWERED) {
      await new Promise<void>((resolve) => {
        attempt.wake = resolve
        this.#waitingForCall.push(resolve)
      })
      attempt.wake = undefined
      // Its deadline passed while it waited: it takes no turn.
      if (attempt.expired) return
    }
    // An earlier write of it answered meanwhile, or it was dropped: the turn passes on.
    if (attempt.expired || batch.state !== 'writing') {
      this.#waitingForCall.shift()?.()
      return
    }
    this.#unanswered++
    batch.calls++
    let result: R
    try {
      result = await this.#hooks.write(batch)
    } finally {
      this.#unanswered--
      batch.calls--
      this.#waitingForCall.shift()?.()
      this.#releaseIfIdle(batch)
    }
    this.#answered(batch, result)
  }

  /** Gives the batch's items back once it is done with and no write of it still runs. */
  #releaseIfIdle(batch: InFlight<T>): void {
    if (batch.state === 'writing' || batch.calls > 0 || batch.released) return
    batch.released = true
    this.#hooks.release(batch.items)
  }

  #answered(batch: InFlight<T>, result: R): void {
    const state = batch.state
    if (state === 'written') return
    batch.state = 'written'
    const droppedAs = state === 'writing' ? undefined : state.dropped
    this.#hooks.onWritten(batch, result, droppedAs)
    this.#releaseIfIdle(batch)
    if (droppedAs !== undefined) return
    clearTimeout(this.#retryTimer)
    this.#retryTimer = undefined
    if (this.#inFlight !== batch) return
    this.#inFlight = undefined
    this.#admitBlocked()
    this.#afterSettle()
    this.#pump()
  }

  #failed(batch: InFlight<T>, error: unknown): void {
    // Written by an earlier attempt that answered late, or dropped at shutdown.
    if (this.#inFlight !== batch || batch.state !== 'writing') return
    batch.attempts++
    // A write past its deadline is no sign of an unreachable store that recovers by itself.
    const transient = !(error instanceof WriteTimeoutError) && this.#hooks.isTransient(error)
    if (!transient && batch.attempts >= MAX_ATTEMPTS) {
      this.#hooks.onWriteError(error, batch, undefined)
      this.#inFlight = undefined
      batch.state = { dropped: 'write-failed' }
      this.#hooks.onDrop('write-failed', batch.items)
      this.#releaseIfIdle(batch)
      this.#afterSettle()
      this.#pump()
      return
    }
    const ceiling = Math.min(
      this.#options.retryMaxMs,
      this.#options.retryBaseMs * 2 ** Math.min(batch.attempts - 1, 30),
    )
    // Full jitter: processes that lost the database together do not return together.
    const delay = Math.max(1, randomInt(Math.ceil(ceiling / 2), Math.ceil(ceiling) + 1))
    this.#hooks.onWriteError(error, batch, delay)
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      if (this.#inFlight === batch && batch.state === 'writing') void this.#write(batch)
    }, delay)
    this.#retryTimer.unref()
  }

  #admitBlocked(): void {
    while (this.#blocked.length > 0 && this.held < this.#options.capacity) {
      const { item, resolve } = this.#blocked.shift() as BlockedItem<T>
      this.#admit(item)
      resolve()
    }
  }

  #flushedUpTo(target: number): boolean {
    if (this.#dequeued < target) return false
    // The batch in flight comes before the staged one: past the target, both are.
    const first = this.#inFlight ?? this.#next
    return first === undefined || first.firstSeq > target
  }

  #pendingUpTo(target: number): number {
    const queued = Math.max(0, Math.min(target, this.#admitted) - this.#dequeued)
    const blocked = Math.max(0, target - this.#admitted)
    let writing = 0
    for (const batch of [this.#inFlight, this.#next]) {
      if (batch !== undefined && batch.firstSeq <= target) writing += batch.items.length
    }
    return queued + blocked + writing
  }

  #afterSettle(): void {
    if (this.#flushWaiters.length > 0) {
      const waiting: FlushWaiter[] = []
      for (const waiter of this.#flushWaiters) {
        if (this.#flushedUpTo(waiter.target)) waiter.resolve()
        else waiting.push(waiter)
      }
      this.#flushWaiters = waiting
    }
    this.#releaseProcess()
  }
}

/** A random positive safe integer: unique enough across processes for the batch log's key. */
export function newBatchId(): number {
  return randomInt(1, 2 ** 47) * 64 + randomInt(0, 64)
}
