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
import type { CategoryOptions, PreferenceEntry } from '../preferences/preference-policy.js'
import { storedQuietHoursEnd } from '../preferences/quiet-hours.js'
import { Batcher } from './batcher.js'
import {
  type AttemptOutcome,
  type CarriedDelivery,
  type Claim,
  carriedChoices,
  carriedRow,
  type DeliveryLedger,
  type LoadedDelivery,
} from './delivery-ledger.js'
import { readChannelResult, type SendOutcome, thrownResult } from '../channels/channel-result.js'
import {
  asksExistence,
  preferenceHold,
  RECIPIENT_GONE,
  throttleHold,
  throttleWindowStart,
} from './delivery-policy.js'
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

/**
 * What a delivery job's handler is given by its `prepare` (see {@link DeliveryDispatcher.load}):
 * the dispatcher (a singleton: resolved in a handler, it would cost each delivery a dependency
 * scope of its own) and the delivery's row with its recipient's choices; no row when there is
 * nothing to send.
 */
export type PreparedDelivery =
  | ({ readonly dispatcher: DeliveryDispatcher } & LoadedDelivery)
  | {
      readonly dispatcher: DeliveryDispatcher
      readonly row: undefined
      readonly preferences: undefined
    }

/** What a delivery's attempt uses of its job. */
type DeliveryJob = Pick<JobContext, 'attempt' | 'maxAttempts' | 'signal' | 'completeWith'>

/**
 * One attempt of one delivery, from its job's start to its result: what the dispatcher's steps
 * hand on, one object instead of an async frame a delivery.
 */
class DeliveryAttempt {
  /** The `sending` mark this attempt holds, once it took one. */
  token: string | undefined
  /** Its message may have gone out though its send failed (see `AttemptOutcome.maybeSent`). */
  maybeSent = false
  /** What to record with its result when it has no error of its own. */
  note: string | undefined
  /** Whom earlier attempts sent its message to besides its recipient, as its mark read it. */
  sentTo: readonly string[] | undefined

  constructor(
    readonly id: string,
    readonly replay: number,
    /** The delivery's attempt this is; its mark may count it higher (see `#sendMarked`). */
    public attempt: number,
    /** Where its budget of attempts began (see `DeliveryPayload.base`). */
    readonly base: number,
    /** The attempts its budget spent before this job. */
    readonly spent: number,
    readonly job: DeliveryJob,
    readonly loaded: LoadedDelivery,
    readonly channel: AnyChannel | undefined,
    readonly markedChannel: boolean,
  ) {}
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
  /**
   * The delivery's attempts when its budget of attempts began (0 for its first job, those it had
   * for a replay's): a job that goes on for another (held by quiet hours, by another run's mark)
   * spends what is left of that budget, not a new one. `after` when absent.
   */
  readonly base?: number | undefined
  /** The replay of the delivery this job sends; absent for its first job. */
  readonly replay?: number | undefined
}

/**
 * Runs one attempt of one delivery, from its job: reads the row (for all the delivery jobs of a
 * claim at once; a delivery already sent, dead or suppressed is skipped: a job that runs twice
 * sends once), asks whether the recipient still
 * exists, holds it to the end of the recipient's quiet hours, applies their preferences and the
 * category's throttle (suppressed, with the reason), sends through the channel with the
 * delivery's id, records the result (with the job's completion when final) and publishes
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
   * What the handlers of one claim's delivery jobs are given (their job's `prepare`): the rows
   * of their deliveries, as the claim carried them (`carried`, in order, `null` for none) or
   * read here in one statement, with their recipients' choices; no row for a job of an earlier
   * replay than the row's, which must not send it again. One value a delivery, made in one pass
   * (this runs once a claim, in rarely optimized code: each object and pass is paid in full).
   */
  async load(
    payloads: readonly DeliveryPayload[],
    carried?: readonly (CarriedDelivery | null)[],
  ): Promise<PreparedDelivery[]> {
    const values = new Array<PreparedDelivery>(payloads.length)
    if (carried !== undefined) {
      for (let index = 0; index < payloads.length; index++) {
        const payload = payloads[index] as DeliveryPayload
        const found = carried[index] ?? null
        values[index] =
          found === null || Number(found.v[7]) !== (payload.replay ?? 0)
            ? { dispatcher: this, row: undefined, preferences: undefined }
            : {
                dispatcher: this,
                row: carriedRow(payload.id, found.v),
                preferences: carriedChoices(found.v),
              }
      }
      return values
    }
    const loaded = await this.#init.ledger.load(payloads.map((payload) => payload.id))
    for (let index = 0; index < payloads.length; index++) {
      const delivery = loaded[index]
      values[index] =
        delivery === undefined ||
        Number(delivery.row.replays) !== ((payloads[index] as DeliveryPayload).replay ?? 0)
          ? { dispatcher: this, row: undefined, preferences: undefined }
          : { dispatcher: this, row: delivery.row, preferences: delivery.preferences }
    }
    return values
  }

  /**
   * One attempt, with what {@link DeliveryDispatcher.load} read for it. A promise only while
   * the attempt waits for something: one that checks nothing that waits (no `recipientExists`,
   * no quiet-hours hold, no throttle) on a channel with idempotency keys goes straight to its send, whose answer
   * finishes it (see `BoundedSend`), with no async frame and no awaits of its own.
   */
  deliver(
    { id, after = 0, replay = 0, base = after }: DeliveryPayload,
    job: DeliveryJob,
    loaded: PreparedDelivery,
  ): Promise<void> | undefined {
    if (loaded.row === undefined) return undefined
    const { row } = loaded
    const channel = this.#init.channels.get(row.channel as ChannelName)
    const attempt = new DeliveryAttempt(
      id,
      replay,
      after + job.attempt,
      base,
      after - base,
      job,
      loaded,
      channel,
      // Its sends are marked: the row may count attempts its job does not (see `ledger.mark`).
      channel !== undefined && channel.idempotent !== true,
    )
    if (this.#init.recipientExists !== undefined && asksExistence(row.recipient_id)) {
      return this.#checkExistence(this.#init.recipientExists, attempt)
    }
    return this.#checkChoices(attempt)
  }

  async #checkExistence(
    exists: (recipientId: string) => boolean | Promise<boolean>,
    attempt: DeliveryAttempt,
  ): Promise<void> {
    if (!(await this.#recipientExists(exists, attempt.loaded.row.recipient_id))) {
      await this.#finish(attempt, 'suppressed', RECIPIENT_GONE)
      return
    }
    await this.#checkChoices(attempt)
  }

  /**
   * Quiet hours, the recipient's preferences, then the category's throttle: a held delivery
   * waits for its continuation's enqueue, a throttled one for its counters' upsert. The throttle admits a delivery once, on its first recorded
   * attempt: its retries and replays are no more messages, and counting them would let a retry
   * suppress what never went out. Not by the job's attempt: a first attempt that threw before it
   * was counted (recipientExists, the counter's upsert) would leave the delivery never counted,
   * sent past the limit.
   */
  #checkChoices(attempt: DeliveryAttempt): Promise<void> | undefined {
    const { row, preferences } = attempt.loaded
    // Quiet hours are decided now, at each attempt: a retry, a replay or a digest sent later may
    // fall in the window. Its job goes on at the window's end, this run being no attempt (nor a
    // throttle admission). Critical categories go at once, whatever the row says.
    const quiet =
      row.quiet_hours === null || this.#init.categories[row.category]?.critical === true
        ? undefined
        : storedQuietHoursEnd(row.quiet_hours, this.#init.clock.nowMs())
    if (quiet?.unknownZone !== undefined) {
      // Recorded with its result (a sent delivery's last error says why it went when it did).
      attempt.note = `quiet hours read in UTC: time zone '${quiet.unknownZone}' is unknown to this worker's runtime`
    }
    const quietUntil = quiet?.until
    if (quietUntil !== undefined) {
      const { id, replay, base } = attempt
      return this.#init.continueAt({ id, replay, after: attempt.attempt - 1, base }, quietUntil)
    }
    const held = this.#preferenceHold(row, preferences)
    if (held !== undefined) return this.#finish(attempt, 'suppressed', held)
    if (
      this.#init.categories[row.category]?.throttle === undefined ||
      Number(row.attempts) !== 0 ||
      attempt.replay !== 0
    ) {
      return this.#send(attempt)
    }
    return this.#checkThrottle(attempt)
  }

  async #checkThrottle(attempt: DeliveryAttempt): Promise<void> {
    const held = await this.#throttleHold(attempt.loaded.row)
    await (held === undefined ? this.#send(attempt) : this.#finish(attempt, 'suppressed', held))
  }

  /** Sends through the attempt's channel, or records why it cannot be sent. */
  #send(attempt: DeliveryAttempt): Promise<void> | undefined {
    const { channel } = attempt
    const { row } = attempt.loaded
    const to =
      channel === undefined || row.address === null
        ? undefined
        : this.#address(attempt.id, row.address)
    if (channel === undefined || to === undefined) {
      return this.answered(attempt, {
        status: 'permanent',
        reason: `no '${row.channel}' channel is configured in the notify module`,
      })
    }
    // Dead, and so replayable once the vault that sealed it is back.
    if (typeof to !== 'string') return this.answered(attempt, to)
    const bound = channel.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS
    if (attempt.markedChannel) return this.#sendMarked(attempt, channel, to, bound)
    return this.#sendBounded(attempt, channel, to, bound)
  }

  /** A send on a channel without idempotency keys: marked `sending` first (see `ledger.mark`). */
  async #sendMarked(
    attempt: DeliveryAttempt,
    channel: AnyChannel,
    to: string,
    bound: number,
  ): Promise<void> {
    const { id, replay, base } = attempt
    // Twice the send's bound: as long again for its result's write to land.
    const mark = await this.#init.ledger.mark({ id, replay }, attempt.attempt, 2 * bound)
    // Nothing left to send: another run finished it, or a replay gave it to a newer job.
    if (mark === undefined) return
    if (!mark.held) {
      // Another run of this delivery's job (its lease passed under a live worker, an engine
      // ran it again) holds the mark and may be sending now: this one sends nothing and is
      // no attempt. A job goes on once the mark's lease ends, in case that run left no result.
      await this.#init.continueAt({ id, replay, after: attempt.attempt - 1, base }, mark.busyUntil)
      return
    }
    attempt.token = mark.token
    // Its mark may count it higher: after an attempt that marked it and vanished.
    attempt.attempt = mark.attempt
    attempt.sentTo = mark.sentTo
    await this.#sendBounded(attempt, channel, to, bound)
  }

  #sendBounded(
    attempt: DeliveryAttempt,
    channel: AnyChannel,
    to: string,
    bound: number,
  ): Promise<void> {
    const { row } = attempt.loaded
    const send = new BoundedSend(this, attempt, bound, to)
    send.start(
      channel as { send: Send },
      new OutgoingSend(
        send,
        attempt.id,
        to,
        JSON.parse(row.message) as never,
        row.recipient_id,
        row.type,
        attempt.attempt,
        attempt.sentTo,
      ),
      this.#sends,
    )
    return send.done
  }

  /**
   * Records how an attempt's send ended: `answer` is the channel's result as read (ambiguous
   * when it resolved no result), or `undefined` when none came within `send`'s bound (or the
   * job's signal aborted first). Called by the send itself (`BoundedSend`), or with the reason
   * no send was made; a promise only when there is something to wait for (each await is a
   * promise a delivery).
   */
  answered(
    attempt: DeliveryAttempt,
    answer: SendOutcome | undefined,
    send?: BoundedSend,
  ): Promise<void> | undefined {
    let result: SendOutcome = answer ?? {
      status: 'transient',
      reason: send?.givenUp() ?? 'the send was given up: it may have gone out',
    }
    if (result.status === 'accepted') {
      const { providerMessageId } = result
      if (attempt.token === undefined && this.#init.bus.listenerCount('notification.sent') === 0) {
        return this.#finish(attempt, 'sent', undefined, providerMessageId)
      }
      return this.#recordSent(attempt, providerMessageId)
    }
    // Its reason is stored and published: a URL it quotes may be the credential.
    if (send !== undefined) result = { ...result, reason: withoutAddress(result.reason, send.to) }
    // The channel's answer when the send outlasted its bound (the mark stays until its lease
    // passes): it may still come.
    return this.#failed(attempt, result, answer === undefined ? send?.late() : undefined)
  }

  /**
   * Records a sent result now and publishes `notification.sent` only when this attempt's write
   * recorded it: a second run of the delivery's job (its lease passed, its completion's write
   * was lost and the job ran again) finds the row sent and tells of nothing, so the event
   * follows the ledger's committed state, once a delivery.
   */
  async #recordSent(
    attempt: DeliveryAttempt,
    providerMessageId: string | undefined,
  ): Promise<void> {
    const outcome = outcomeOf(attempt, 'sent', undefined, providerMessageId)
    if (!(await this.#init.ledger.finish(outcome))) return
    if (this.#init.bus.listenerCount('notification.sent') === 0) return
    await this.#publishSent(attempt.loaded.row, attempt.attempt, providerMessageId)
  }

  /** An attempt whose send failed, or could not be made. */
  async #failed(
    attempt: DeliveryAttempt,
    result: Exclude<SendOutcome, { status: 'accepted' }>,
    late: Promise<SendOutcome> | undefined,
  ): Promise<void> {
    const { id, replay, token, job } = attempt
    const { row } = attempt.loaded
    const ambiguous = result.status === 'ambiguous'
    // Whom the provider took it for besides the recipient is kept before the result: whatever
    // sends it next (a retry, a replay, a takeover after a crash) leaves them out.
    if (token !== undefined && !ambiguous)
      await this.#keepSentTo({ id, replay, token }, attempt.sentTo, result)
    // Its job's attempts count with those its budget spent before it (see `DeliveryPayload.base`).
    // An ambiguous outcome is never retried on its own: it may have gone out (see
    // `AmbiguousResult`); an admin replays it.
    const final =
      result.status === 'permanent' || ambiguous || job.attempt + attempt.spent >= job.maxAttempts
    const error = `${result.status}: ${result.reason}`
    // A transient failure once the message was on its way (a timeout, a dropped connection, a
    // send given up) may hide an acceptance, as an ambiguous outcome may: whichever attempt
    // sends next, be it a replay of the dead delivery, counts a possible duplicate.
    const maybeSent = token !== undefined && (result.status === 'transient' || ambiguous)
    attempt.maybeSent = maybeSent
    if (final) {
      await this.#finish(attempt, 'dead', error)
    }
    // Failed and retried: the job's completion never comes for this attempt, so it is written now;
    // not after giving up on a marked send, whose mark holds the delivery until its lease passes
    // (the send may still go out: a later attempt then sends it counted as a possible duplicate).
    // An idempotent channel's holds no mark: nothing else would record the attempt.
    else if (late === undefined || token === undefined) {
      await this.#init.ledger.finish({
        id,
        attempt: attempt.attempt,
        replay,
        status: 'failed',
        error,
        token,
        maybeSent,
      })
    }
    // After this attempt's own writes, so that an acceptance comes after them.
    if (late !== undefined && token !== undefined) {
      void this.#recordLate(
        late,
        { id, attempt: attempt.attempt, replay, token },
        row,
        attempt.sentTo,
      )
    }
    await this.#init.bus.publish('notification.failed', {
      ...aboutDelivery(row),
      reason: result.reason,
      result: result.status,
      attempts: attempt.attempt,
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
    attempt: DeliveryAttempt,
    status: AttemptOutcome['status'],
    error?: string,
    providerMessageId?: string,
  ): Promise<void> | undefined {
    const outcome = outcomeOf(attempt, status, error, providerMessageId)
    if (outcome.token !== undefined) return this.#finishNow(outcome)
    attempt.job.completeWith(this.#init.ledger.results, outcome)
    return undefined
  }

  async #finishNow(outcome: AttemptOutcome): Promise<void> {
    await this.#init.ledger.finish(outcome)
  }

  /**
   * The answer of a send given up at its bound, when it comes after all: an acceptance is
   * recorded (and published) while the row is still as the attempt that gave it up left it,
   * under its mark, so the delivery is not sent again once the lease passes. Once another attempt
   * took the mark over, or a replay the row, it is not: that attempt's send is counted as a
   * possible duplicate instead.
   */
  async #recordLate(
    late: Promise<SendOutcome>,
    attempt: Pick<AttemptOutcome, 'id' | 'attempt' | 'replay'> & { readonly token: string },
    row: SendableRow,
    sentTo: readonly string[] | undefined,
  ): Promise<void> {
    try {
      const result = await late
      if (result.status !== 'accepted') {
        // Not accepted for the recipient, but perhaps for others: kept while the mark is still
        // the attempt's, so the send after its lease leaves them out.
        if (result.status !== 'ambiguous') await this.#keepSentTo(attempt, sentTo, result)
        return
      }
      const { providerMessageId } = result
      if (await this.#init.ledger.recordLate({ ...attempt, status: 'sent', providerMessageId })) {
        await this.#publishSent(row, attempt.attempt, providerMessageId)
      }
    } catch (error) {
      this.#init.logger.warn(
        { err: error, deliveryId: attempt.id },
        'The late answer of a send its attempt gave up (an acceptance, or whom it reached besides the recipient) could not be recorded: the delivery is sent again once its mark lapses, counted as a possible duplicate',
      )
    }
  }

  /**
   * Keeps the addresses a failed send reached besides the recipient (`result.sentTo`), with those
   * of earlier attempts (`before`), when it reached any new one (see `ledger.keepSentTo`).
   */
  async #keepSentTo(
    claim: Claim & { readonly token: string },
    before: readonly string[] | undefined,
    result: Exclude<ChannelResult, { status: 'accepted' }>,
  ): Promise<void> {
    const known = new Set(before)
    // Read as the type says only: a plugin's result is not checked, and a throw here would
    // leave the attempt unrecorded.
    const reported: unknown = result.sentTo
    const reached = Array.isArray(reported)
      ? reported.filter(
          (address): address is string => typeof address === 'string' && !known.has(address),
        )
      : []
    if (reached.length === 0) return
    await this.#init.ledger.keepSentTo(claim, [...known, ...new Set(reached)])
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
    const { id, after = 0, replay = 0, base = after } = payload
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
      await this.#init.continueAt({ id, replay, after: attempt, base }, burial.busyUntil)
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
    return preferenceHold(
      row.recipient_id,
      row.category,
      row.channel as ChannelName,
      this.#init.categories,
      preferences,
    )
  }

  /** Why the category's throttle holds this delivery back, if it does (it counts the delivery). */
  async #throttleHold(row: SendableRow): Promise<string | undefined> {
    const throttle = this.#init.categories[row.category]?.throttle
    if (throttle === undefined) return undefined
    const channel = row.channel as ChannelName
    const count = await this.#throttles.call({
      deliveryId: row.id,
      recipientId: row.recipient_id,
      category: row.category,
      channel,
      windowStart: throttleWindowStart(throttle, this.#init.clock.nowMs()),
    })
    return throttleHold(throttle, count, row.category, channel)
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

/** How an attempt ended, as the ledger records it. */
function outcomeOf(
  attempt: DeliveryAttempt,
  status: AttemptOutcome['status'],
  error: string | undefined,
  providerMessageId: string | undefined,
): AttemptOutcome {
  return {
    id: attempt.id,
    attempt: attempt.attempt,
    replay: attempt.replay,
    status,
    providerMessageId,
    error: error ?? attempt.note,
    token: attempt.token,
    maybeSent: attempt.maybeSent,
    markedChannel: attempt.markedChannel,
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
  /**
   * When the turn's first send started (`performance.now()`): each of the turn's sends is bounded
   * from then, so a bound may be shorter by what the turn ran before its send, never longer; one
   * reading of the clock a turn, not one a send.
   */
  #since = 0

  /** Watches `send`, about to start, from the end of this turn, unless it settled by then. */
  add(send: BoundedSend): void {
    if (this.#started.push(send) === 1) {
      this.#since = performance.now()
      setImmediate(this.#watchStarted)
    }
  }

  readonly #watchStarted = (): void => {
    const started = this.#started
    const since = this.#since
    this.#started = []
    for (let index = 0; index < started.length; index++) {
      ;(started[index] as BoundedSend).watch(since)
    }
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
    readonly sentTo: readonly string[] | undefined,
  ) {
    this.#send = send
  }

  get signal(): AbortSignal {
    return this.#send.signal()
  }
}

/**
 * One send, bounded, that finishes its attempt: the channel's answer, or `undefined` when none
 * came within `bound` ms or the job's signal aborted first (the channel's signal then aborts
 * too), goes to the dispatcher's `answered`, and `done` settles once that recorded it; `late()`
 * is the answer whenever it comes. The job's abort listener is the send itself (`handleEvent`)
 * and the timer's argument too, so a send makes no closures of its own beyond its promise's and
 * the two that hear the channel (each one, named by the build, is garbage a delivery).
 */
class BoundedSend {
  /** Settles once the attempt's result is recorded: its handler's promise. */
  readonly done: Promise<void>
  readonly #dispatcher: DeliveryDispatcher
  readonly #attempt: DeliveryAttempt
  #sent: Promise<ChannelResult> | undefined
  // The channel threw instead of returning a promise.
  #threwAtOnce = false
  #resolve: (() => void) | undefined
  #reject: ((error: unknown) => void) | undefined
  #timer: NodeJS.Timeout | undefined
  /** The job's signal, once listened to. */
  #jobSignal: AbortSignal | undefined
  #controller: AbortController | undefined
  #stopped: { readonly reason: unknown; readonly timedOut: boolean } | undefined

  constructor(
    dispatcher: DeliveryDispatcher,
    attempt: DeliveryAttempt,
    readonly bound: number,
    readonly to: string,
  ) {
    this.#dispatcher = dispatcher
    this.#attempt = attempt
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }

  /** Sends `outgoing` (made for this send) through `channel`, watched by `watch`. */
  start(channel: { send: Send }, outgoing: OutgoingSend, watch: SendWatch): void {
    // Before the channel's call: the bound counts from no later than the send's start.
    watch.add(this)
    let sent: Promise<ChannelResult>
    try {
      sent = Promise.resolve(channel.send(outgoing))
    } catch (error) {
      this.#threwAtOnce = true
      sent = Promise.reject(error)
    }
    this.#sent = sent
    sent.then(
      (answer: unknown) => this.#settle(readChannelResult(answer, this.#channel())),
      (error: unknown) => this.#settle(this.#threw(error)),
    )
  }

  /** The channel's answer whenever it comes, read as its first would have been. */
  late(): Promise<SendOutcome> {
    return (this.#sent as Promise<ChannelResult>).then(
      (answer: unknown) => readChannelResult(answer, this.#channel()),
      (error: unknown) => this.#threw(error),
    )
  }

  /** Why the send was given up without an answer: its bound, or its job's signal. */
  givenUp(): string {
    const channel = this.#channel()
    if (this.#stopped === undefined || this.#stopped.timedOut) {
      return `channel '${channel}' gave no answer within ${this.bound} ms (its send timeout): it may have gone out`
    }
    return `the send on channel '${channel}' was given up before it answered, its job aborted (${thrownText(this.#stopped.reason)}: the worker stops, or the job's time ran out): it may have gone out`
  }

  #channel(): string {
    return this.#attempt.loaded.row.channel
  }

  /**
   * A channel should report results; a throw leaves us not knowing whether it went out: a
   * transient failure, retried (never handed to a fallback provider).
   */
  #threw(error: unknown): ChannelResult {
    return thrownResult(error, this.#channel(), this.#threwAtOnce ? 'threw' : 'rejected its send')
  }

  /**
   * From the end of the turn the send started in: unless answered, given up at its bound (a
   * timer for what is left of it) or when the job's signal aborts (now, if it did already).
   */
  watch(since: number): void {
    if (this.#resolve === undefined) return
    const signal = this.#attempt.job.signal
    if (signal.aborted) {
      this.stop(signal.reason)
      return
    }
    this.#jobSignal = signal
    signal.addEventListener('abort', this, { once: true })
    // Unref'd, as AbortSignal.timeout's: a send's bound alone keeps no process alive.
    this.#timer = setTimeout(
      timeUp,
      Math.max(0, since + this.bound - performance.now()),
      this,
    ).unref()
  }

  /** The job's signal aborted. */
  handleEvent(): void {
    this.stop(this.#attempt.job.signal.reason)
  }

  stop(reason: unknown, timedOut = false): void {
    if (this.#stopped !== undefined) return
    this.#stopped = { reason, timedOut }
    this.#controller?.abort(reason)
    this.#settle(undefined)
  }

  /** The channel's signal: aborted when the send is given up, or at once if the job's was. */
  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      const job = this.#attempt.job.signal
      if (this.#stopped === undefined && job.aborted) this.stop(job.reason)
      else if (this.#stopped !== undefined) this.#controller.abort(this.#stopped.reason)
    }
    return this.#controller.signal
  }

  /** The send ended (answered, given up): its attempt's result is recorded, then `done` settles. */
  #settle(answer: SendOutcome | undefined): void {
    const resolve = this.#resolve
    const reject = this.#reject
    if (resolve === undefined || reject === undefined) return
    this.#resolve = undefined
    this.#reject = undefined
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#jobSignal?.removeEventListener('abort', this)
    let recording: Promise<void> | undefined
    try {
      recording = this.#dispatcher.answered(this.#attempt, answer, this)
    } catch (error) {
      reject(error)
      return
    }
    if (recording === undefined) resolve()
    else recording.then(resolve, reject)
  }
}

function timeUp(send: BoundedSend): void {
  send.stop(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), true)
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
