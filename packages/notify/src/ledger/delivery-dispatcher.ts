import {
  type Clock,
  type EventBus,
  type JobContext,
  type JobDeath,
  type Logger,
  RetryLaterJobError,
  thrownText,
} from '@mortar/core'
import type { Kysely } from 'kysely'
import {
  type AnyChannel,
  type ChannelName,
  type ChannelResult,
  DEFAULT_SEND_TIMEOUT_MS,
  type Outgoing,
} from '../channels/channel.js'
import {
  type CategoryOptions,
  decidePreference,
  type PreferenceEntry,
} from '../preferences/preference-policy.js'
import { storedQuietHoursEnd } from '../preferences/quiet-hours.js'
import { Batcher } from './batcher.js'
import type {
  AttemptOutcome,
  CarriedDelivery,
  DeliveryLedger,
  LoadedDelivery,
} from './delivery-ledger.js'
import { ON_DEMAND_ID_PREFIX } from '../notification/recipient.js'
import { withoutAddress } from '../notification/shown-address.js'
import type { SendableRow } from './delivery-table.js'
import { type AddressSeal, deliveryAddressPlace } from './sealed-address.js'
import { countDeliveries, type ThrottleKey } from './throttle-counter.js'

/** What a {@link DeliveryDispatcher} is made of. */
export interface DeliveryDispatcherInit {
  readonly ledger: DeliveryLedger
  readonly channels: ReadonlyMap<ChannelName, AnyChannel>
  readonly bus: EventBus
  readonly logger: Logger
  readonly recipientExists: ((recipientId: string) => boolean | Promise<boolean>) | undefined
  readonly categories: Readonly<Record<string, CategoryOptions>>
  readonly clock: Clock
  /** The database's background pool (never a caller's transaction), for throttle counters. */
  readonly background: Kysely<unknown>
  /** Opens the sealed addresses of the rows. */
  readonly seal: AddressSeal
  /** Enqueues a delivery job to run at `runAtMs`: to go on after another run's mark. */
  readonly continueAt: (payload: DeliveryPayload, runAtMs: number) => Promise<void>
}

/** Thrown to have the jobs engine retry a delivery later, with backoff. */
export class RetryDeliveryError extends Error {
  constructor(reason: string) {
    super(reason)
    this.name = 'RetryDeliveryError'
  }
}

/** A delivery job's payload. */
export interface DeliveryPayload {
  readonly id: string
  /** The attempts the delivery had before this job (a replay's job starts counting again from 1). */
  readonly after?: number | undefined
  /** The replay of the delivery this job sends; absent for its first job. */
  readonly replay?: number | undefined
}

/**
 * Runs one attempt of one delivery, from its job: reads the row (for all the delivery jobs of a
 * claim at once; a delivery already sent, dead or suppressed is skipped: a job that runs twice
 * sends once), asks whether the recipient still
 * exists, applies their preferences and the category's throttle (suppressed, with the reason),
 * sends through the channel with the delivery's id, records the result (with the job's
 * completion when final) and publishes
 * `notification.sent` or `notification.failed`. A transient result throws so the job is
 * retried with backoff; after the job's last attempt the delivery is dead.
 */
export class DeliveryDispatcher {
  readonly #init: DeliveryDispatcherInit
  readonly #throttles: Batcher<ThrottleKey, number>
  /** `recipientExists` answers being asked in this turn of the event loop, by recipient. */
  readonly #existence = new Map<string, Promise<boolean>>()
  readonly #sends = new SendWatch()

  constructor(init: DeliveryDispatcherInit) {
    this.#init = init
    // One upsert of the throttle counters for every throttled delivery of the same turn.
    this.#throttles = new Batcher((keys) => countDeliveries(init.background, keys))
  }

  /** The address a row holds, opened; a permanent failure when it cannot be (no or another vault). */
  #address(id: string, stored: string): string | ChannelResult {
    try {
      return this.#init.seal.open(stored, deliveryAddressPlace(id))
    } catch (error) {
      return {
        status: 'permanent',
        reason: `its sealed address could not be opened: ${thrownText(error)}`,
      }
    }
  }

  /**
   * The rows of the deliveries of one claim's jobs, for their attempts (their job's `prepare`);
   * nothing for a job of an earlier replay than the row's, which must not send it again.
   */
  async load(
    payloads: readonly DeliveryPayload[],
    carried?: readonly (CarriedDelivery | null)[],
  ): Promise<(LoadedDelivery | undefined)[]> {
    const loaded = await this.#init.ledger.load(
      payloads.map((payload) => payload.id),
      carried,
    )
    return loaded.map((delivery, i) =>
      delivery !== undefined && Number(delivery.row.replays) === (payloads[i]?.replay ?? 0)
        ? delivery
        : undefined,
    )
  }

  /** One attempt, with what {@link DeliveryDispatcher.load} read for it. */
  async deliver(
    { id, after = 0, replay = 0 }: DeliveryPayload,
    job: Pick<JobContext, 'attempt' | 'maxAttempts' | 'signal' | 'completeWith'>,
    loaded: LoadedDelivery | undefined,
  ): Promise<void> {
    const { ledger } = this.#init
    if (loaded === undefined) return
    const { row, preferences } = loaded
    // Its mark may count it higher: after an attempt that marked it and vanished.
    let attempt = after + job.attempt
    const channel = this.#init.channels.get(row.channel as ChannelName)
    // Its sends are marked: the row may count attempts its job does not (see `ledger.mark`).
    const markedChannel = channel !== undefined && channel.idempotent !== true
    // The `sending` mark this attempt holds, once it took one.
    let token: string | undefined

    if (
      this.#init.recipientExists !== undefined &&
      !row.recipient_id.startsWith(ON_DEMAND_ID_PREFIX)
    ) {
      if (!(await this.#recipientExists(this.#init.recipientExists, row.recipient_id))) {
        await this.#finish(job, {
          id,
          attempt,
          replay,
          status: 'suppressed',
          error: 'recipient deleted before delivery',
          markedChannel,
        })
        return
      }
    }
    // Quiet hours are decided now, at each attempt: a retry, a replay or a digest sent later may
    // fall in the window. Its job goes on at the window's end, this run being no attempt (nor a
    // throttle admission). Critical categories go at once, whatever the row says.
    const quietUntil =
      row.quiet_hours === null || this.#init.categories[row.category]?.critical === true
        ? undefined
        : storedQuietHoursEnd(row.quiet_hours, this.#init.clock.nowMs())
    if (quietUntil !== undefined) {
      await this.#init.continueAt({ id, replay, after: attempt - 1 }, quietUntil)
      return
    }
    // Throttled categories alone wait (for their counters' upsert). The throttle admits a
    // delivery once, on its first recorded attempt: its retries and replays are no more
    // messages, and counting them would let a retry suppress what never went out. Not by the
    // job's attempt: a first attempt that threw before it was counted (recipientExists, the
    // counter's upsert) would leave the delivery never counted, sent past the limit.
    const suppressed =
      this.#preferenceHold(row, preferences) ??
      (this.#init.categories[row.category]?.throttle === undefined ||
      Number(row.attempts) !== 0 ||
      replay !== 0
        ? undefined
        : await this.#throttleHold(row))
    if (suppressed !== undefined) {
      await this.#finish(job, {
        id,
        attempt,
        replay,
        status: 'suppressed',
        error: suppressed,
        markedChannel,
      })
      return
    }
    let result: ChannelResult
    // The channel's answer when the send outlasted its bound (the mark stays until its lease
    // passes): it may still come.
    let late: Promise<ChannelResult> | undefined
    const to =
      channel === undefined || row.address === null ? undefined : this.#address(id, row.address)
    if (channel === undefined || to === undefined) {
      result = {
        status: 'permanent',
        reason: `no '${row.channel}' channel is configured in the notify module`,
      }
    } else if (typeof to !== 'string') {
      // Dead, and so replayable once the vault that sealed it is back.
      result = to
    } else {
      const bound = channel.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS
      if (channel.idempotent !== true) {
        // Twice the send's bound: as long again for its result's write to land.
        const mark = await ledger.mark({ id, replay }, attempt, 2 * bound)
        // Nothing left to send: another run finished it, or a replay gave it to a newer job.
        if (mark === undefined) return
        if (!mark.held) {
          // Another run of this delivery's job (its lease passed under a live worker, an engine
          // ran it again) holds the mark and may be sending now: this one sends nothing and is
          // no attempt. A job goes on once the mark's lease ends, in case that run left no result.
          await this.#init.continueAt({ id, replay, after: attempt - 1 }, mark.busyUntil)
          return
        }
        token = mark.token
        attempt = mark.attempt
      }
      const send = new BoundedSend(bound, job)
      send.start(
        channel as { send: Send },
        new OutgoingSend(
          send,
          id,
          to,
          JSON.parse(row.message) as never,
          row.recipient_id,
          row.type,
          attempt,
        ),
        this.#sends,
      )
      const answer = await send.answer
      late = answer === undefined ? (send.late as Promise<ChannelResult>) : undefined
      result = answer ?? {
        status: 'transient',
        reason: `no answer within ${bound} ms (the channel's send timeout): it may have gone out`,
      }
      // Its reason is stored and published: a URL it quotes may be the credential.
      if (result.status !== 'accepted')
        result = { ...result, reason: withoutAddress(result.reason, to) }
    }

    if (result.status === 'accepted') {
      // Awaited only when there is something to wait for: each await is a promise a delivery.
      const recording = this.#finish(job, {
        id,
        attempt,
        replay,
        status: 'sent',
        providerMessageId: result.providerMessageId,
        token,
        markedChannel,
      })
      if (recording !== undefined) await recording
      if (this.#init.bus.listenerCount('notification.sent') > 0)
        await this.#publishSent(row, attempt, result.providerMessageId)
      return
    }
    const final = result.status === 'permanent' || job.attempt >= job.maxAttempts
    const error = `${result.status}: ${result.reason}`
    // A transient failure once the message was on its way (a timeout, a dropped connection, a
    // send given up) may hide an acceptance: whichever attempt sends next, be it a replay of the
    // dead delivery, counts a possible duplicate.
    const maybeSent = token !== undefined && result.status === 'transient'
    if (final) {
      await this.#finish(job, {
        id,
        attempt,
        replay,
        status: 'dead',
        error,
        maybeSent,
        token,
        markedChannel,
      })
    }
    // Failed and retried: the job's completion never comes for this attempt, so it is written now;
    // not after giving up on a marked send, whose mark holds the delivery until its lease passes
    // (the send may still go out: a later attempt then sends it counted as a possible duplicate).
    // An idempotent channel's holds no mark: nothing else would record the attempt.
    else if (late === undefined || token === undefined) {
      await ledger.finish({
        id,
        attempt,
        replay,
        status: 'failed',
        error,
        token,
        maybeSent,
      })
    }
    // After this attempt's own writes, so that an acceptance comes after them.
    if (late !== undefined && token !== undefined) {
      void this.#recordLate(late, { id, attempt, replay, token }, row)
    }
    await this.#init.bus.publish('notification.failed', {
      ...aboutDelivery(row),
      reason: result.reason,
      result: result.status,
      attempts: attempt,
      final,
    })
    if (final) return
    const reason = `${row.channel} delivery ${row.id}: ${result.status}: ${result.reason}`
    // A provider's Retry-After: the next attempt waits for it (core caps it at a day).
    if ('retryAfterMs' in result && result.retryAfterMs !== undefined)
      throw new RetryLaterJobError(reason, { retryAfterMs: result.retryAfterMs })
    throw new RetryDeliveryError(reason)
  }

  /**
   * Records an attempt's final result. A marked attempt's result is written by itself, fenced by
   * its mark: with the job's completion it would be lost if the job's lease passed to another
   * run meanwhile, which, finding no result once the mark's lease passed, would send again.
   * Any other rides with the job's completion (the job is not finished without it), handed
   * over with no promise to wait for: a method, not a closure made per delivery.
   */
  #finish(
    job: Pick<JobContext, 'completeWith'>,
    outcome: AttemptOutcome,
  ): Promise<void> | undefined {
    if (outcome.token !== undefined) return this.#init.ledger.finish(outcome)
    job.completeWith(this.#init.ledger.results, outcome)
    return undefined
  }

  /**
   * The answer of a send given up at its bound, when it comes after all: an acceptance is
   * recorded (and published) while the row is still as the attempt that gave it up left it,
   * under its mark, so the delivery is not sent again once the lease passes. Once another attempt
   * took the mark over, or a replay the row, it is not: that attempt's send is counted as a
   * possible duplicate instead.
   */
  async #recordLate(
    late: Promise<ChannelResult>,
    attempt: Pick<AttemptOutcome, 'id' | 'attempt' | 'replay' | 'token'>,
    row: SendableRow,
  ): Promise<void> {
    try {
      const result = await late
      if (result.status !== 'accepted') return
      const { providerMessageId } = result
      if (await this.#init.ledger.recordLate({ ...attempt, status: 'sent', providerMessageId })) {
        await this.#publishSent(row, attempt.attempt, providerMessageId)
      }
    } catch (error) {
      this.#init.logger.warn(
        { err: error, deliveryId: attempt.id },
        'A send accepted after its attempt gave it up could not be recorded: the delivery is sent again once its mark lapses, counted as a possible duplicate',
      )
    }
  }

  /**
   * Makes a delivery dead whose job died without its handler recording a result: its workers
   * died mid-attempt until its attempts ran out (`E_JOB_LOST`), or its last attempt timed out or
   * threw. Publishes `notification.failed` (result `job-dead`) when this ended the delivery;
   * a delivery already finished is left as it is. Safe to run again for one death.
   */
  async dead(
    payload: DeliveryPayload | undefined,
    job: Pick<JobDeath, 'attempt' | 'maxAttempts' | 'error'>,
  ): Promise<void> {
    if (payload === undefined) return
    const { id, after = 0, replay = 0 } = payload
    const { ledger } = this.#init
    // A lost job's last claim ran no attempt: the attempts made are its maximum.
    const attempt = after + Math.min(job.attempt, job.maxAttempts)
    const reason = `the delivery job died: ${job.error.code ?? job.error.name}: ${job.error.message}`
    const burial = await ledger.bury({
      id,
      attempt,
      replay,
      status: 'dead',
      error: `job-dead: ${reason}`,
    })
    if (burial === undefined) return
    if ('busyUntil' in burial) {
      // A run of another job holds its mark: that run records the result; a job goes on after
      // the mark's lease, in case it does not.
      await this.#init.continueAt({ id, replay, after: attempt }, burial.busyUntil)
      return
    }
    const { row } = burial
    await this.#init.bus.publish('notification.failed', {
      ...aboutDelivery(row),
      reason,
      result: 'job-dead',
      attempts: attempt,
      final: true,
    })
  }

  /**
   * Asks once for all the deliveries to one recipient whose rows came back in the same turn
   * (one notification on several channels): each is still asked after its own read, so a
   * recipient deleted before then is not sent to.
   */
  #recipientExists(
    exists: (recipientId: string) => boolean | Promise<boolean>,
    recipientId: string,
  ): Promise<boolean> {
    let answer = this.#existence.get(recipientId)
    if (answer === undefined) {
      if (this.#existence.size === 0) setImmediate(() => this.#existence.clear())
      answer = Promise.resolve().then(() => exists(recipientId))
      this.#existence.set(recipientId, answer)
    }
    return answer
  }

  /** Why the recipient's preferences hold this delivery back, if they do. */
  #preferenceHold(row: SendableRow, preferences: readonly PreferenceEntry[]): string | undefined {
    // No stored choice: nothing to opt out with.
    if (preferences.length === 0) return undefined
    const category = this.#init.categories[row.category] ?? {}
    if (
      category.critical === true ||
      category.required === true ||
      row.recipient_id.startsWith(ON_DEMAND_ID_PREFIX)
    ) {
      return undefined
    }
    const decision = decidePreference(
      row.category,
      row.channel as ChannelName,
      category,
      preferences,
    )
    return decision.send ? undefined : decision.reason
  }

  /** Why the category's throttle holds this delivery back, if it does (it counts the delivery). */
  async #throttleHold(row: SendableRow): Promise<string | undefined> {
    const throttle = this.#init.categories[row.category]?.throttle
    if (throttle === undefined) return undefined
    const channel = row.channel as ChannelName
    const now = this.#init.clock.nowMs()
    const count = await this.#throttles.call({
      recipientId: row.recipient_id,
      category: row.category,
      channel,
      windowStart: now - (now % throttle.windowMs),
    })
    return count > throttle.limit
      ? `throttled: more than ${throttle.limit} '${row.category}' on ${channel} per ${throttle.windowMs} ms`
      : undefined
  }

  async #publishSent(
    row: SendableRow,
    attempt: number,
    providerMessageId: string | undefined,
  ): Promise<void> {
    await this.#init.bus.publish('notification.sent', {
      ...aboutDelivery(row),
      providerMessageId,
      attempts: attempt,
    })
  }
}

type Send = (outgoing: Outgoing<never>) => Promise<ChannelResult>

/**
 * The bounds of a dispatcher's sends. A send answered within the turn of the event loop it
 * started in (the inbox, a no-op channel) pays for no timer and no listener: a timer, a listener
 * on the job's signal and their removal cost more than the rest of such a delivery's handler.
 * Those still waiting when the turn ends get them, in one pass, the timer for what is left of
 * their bound.
 */
class SendWatch {
  #started: BoundedSend[] = []

  /** Watches `send` from the end of this turn, unless it settled by then. */
  add(send: BoundedSend): void {
    if (this.#started.push(send) === 1) setImmediate(this.#watchStarted)
  }

  readonly #watchStarted = (): void => {
    const started = this.#started
    this.#started = []
    for (const send of started) send.watch()
  }
}

/**
 * What a channel is given for one send: the signal is made when the channel first reads it (a
 * send that never reads it pays for none), aborted when the send is given up.
 */
class OutgoingSend implements Outgoing<never> {
  readonly #send: BoundedSend

  constructor(
    send: BoundedSend,
    readonly id: string,
    readonly to: string,
    readonly message: never,
    readonly recipientId: string,
    readonly type: string,
    readonly attempt: number,
  ) {
    this.#send = send
  }

  get signal(): AbortSignal {
    return this.#send.signal()
  }
}

/**
 * One send, bounded: `answer` is the channel's answer, or `undefined` when none came within
 * `bound` ms or the job's signal aborted first (the channel's signal then aborts too); `late` is
 * the answer whenever it comes. The job's abort listener is the send itself (`handleEvent`) and
 * the timer's argument too, so a send makes no closures of its own beyond its promises' (each
 * one, named by the build, is garbage a delivery).
 */
class BoundedSend {
  readonly answer: Promise<ChannelResult | undefined>
  late: Promise<ChannelResult> | undefined
  readonly #job: Pick<JobContext, 'signal'>
  readonly #deadline: number
  #resolve: ((answer: ChannelResult | undefined) => void) | undefined
  #timer: NodeJS.Timeout | undefined
  /** The job's signal, once listened to. */
  #jobSignal: AbortSignal | undefined
  #controller: AbortController | undefined
  #stopped: { readonly reason: unknown } | undefined

  constructor(bound: number, job: Pick<JobContext, 'signal'>) {
    this.#job = job
    this.#deadline = performance.now() + bound
    this.answer = new Promise((resolve) => {
      this.#resolve = resolve
    })
  }

  /** Sends `outgoing` (made for this send) through `channel`, watched by `watch`. */
  start(channel: { send: Send }, outgoing: OutgoingSend, watch: SendWatch): void {
    let late: Promise<ChannelResult>
    try {
      late = Promise.resolve(channel.send(outgoing)).then(undefined, threw)
    } catch (error) {
      late = Promise.resolve(threw(error))
    }
    this.late = late
    late.then((answer) => this.#settle(answer))
    watch.add(this)
  }

  /**
   * From the end of the turn the send started in: unless answered, given up at its bound (a
   * timer for what is left of it) or when the job's signal aborts (now, if it did already).
   */
  watch(): void {
    if (this.#resolve === undefined) return
    const signal = this.#job.signal
    if (signal.aborted) {
      this.stop(signal.reason)
      return
    }
    this.#jobSignal = signal
    signal.addEventListener('abort', this, { once: true })
    // Unref'd, as AbortSignal.timeout's: a send's bound alone keeps no process alive.
    this.#timer = setTimeout(timeUp, Math.max(0, this.#deadline - performance.now()), this).unref()
  }

  /** The job's signal aborted. */
  handleEvent(): void {
    this.stop(this.#job.signal.reason)
  }

  stop(reason: unknown): void {
    if (this.#stopped !== undefined) return
    this.#stopped = { reason }
    this.#controller?.abort(reason)
    this.#settle(undefined)
  }

  /** The channel's signal: aborted when the send is given up, or at once if the job's was. */
  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      const job = this.#job.signal
      if (this.#stopped === undefined && job.aborted) this.stop(job.reason)
      else if (this.#stopped !== undefined) this.#controller.abort(this.#stopped.reason)
    }
    return this.#controller.signal
  }

  #settle(answer: ChannelResult | undefined): void {
    const resolve = this.#resolve
    if (resolve === undefined) return
    this.#resolve = undefined
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#jobSignal?.removeEventListener('abort', this)
    resolve(answer)
  }
}

function timeUp(send: BoundedSend): void {
  send.stop(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
}

/** A channel should report results; a throw leaves us not knowing whether it went out. */
function threw(error: unknown): ChannelResult {
  return { status: 'transient', reason: `the channel threw: ${thrownText(error)}` }
}

/** What `notification.sent` and `notification.failed` say about the delivery they concern. */
function aboutDelivery(row: SendableRow) {
  return {
    deliveryId: row.id,
    notificationId: row.notification_id,
    type: row.type,
    category: row.category,
    recipientId: row.recipient_id,
    channel: row.channel as ChannelName,
  }
}
