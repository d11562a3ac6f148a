import { AsyncLocalStorage } from 'node:async_hooks'
import { hostname } from 'node:os'
import { type Clock, type Logger, ValidationError } from '@mortar/core'
import { z } from 'zod'
import type { Notifier } from '../notification/notifier.js'
import type { Recipient } from '../notification/recipient.js'
import { AdminAlert, type Alert, type AlertChannel, type AlertNotice } from './admin-alert.js'

/** Who receives admin alerts: a fixed list, or a function asked before each notice. */
export type AlertAdmins =
  | readonly Recipient[]
  | (() => readonly Recipient[] | Promise<readonly Recipient[]>)

interface KeyState {
  /** When the last notice for the key went out; the cooldown runs from here. */
  sentAtMs: number
  /** Raises counted since then, waiting for the cooldown's end to go out as one notice. */
  pending: number
  last: Alert
  /** Raised and not resolved since. */
  open: boolean
  /** A raised or repeated notice went out and no resolved notice since. */
  notified: boolean
}

/**
 * Keys tracked at once. Keys may come from outside (an app raising per account or per address),
 * so the state is bounded: past it, the key idle longest (announced, its cooldown over, nothing
 * counted) is forgotten, and when none is idle (as many keys raised within one cooldown) further
 * keys are counted under {@link OVERFLOW_KEY}, one notice per cooldown however many keys come.
 */
const MAX_KEYS = 1_000
const OVERFLOW_KEY = 'mortar.alerts.overflow'
/** Notices kept to write again after their write failed; past it the oldest is dropped (logged). */
const MAX_UNSENT = 1_000

// A title is a mail subject, and a mail channel refuses a subject with a line break.
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
const ONE_LINE = /^[^\u0000-\u001f\u007f-\u009f]*$/

const alertSchema = z.object({
  key: z.string().min(1).max(191),
  title: z.string().min(1).max(500).regex(ONE_LINE, 'One line, no control characters.'),
  detail: z.string().max(10_000).optional(),
  severity: z.enum(['warning', 'critical']).optional(),
})

/**
 * Admin alerts with a cooldown per key: the first raise of a key goes out at once, later raises
 * within the cooldown are counted and go out as one notice with the count when it ends (a storm
 * of a thousand lockouts is one message), and `resolve` sends a "resolved" notice for a key that
 * was announced. Bound to `ALERTS` by `alertsModule`; the process monitor and
 * `security.suspicious_activity` raise through it, and so may the app.
 *
 * State is per process: several processes each announce their own conditions. It is bounded:
 * past 1,000 keys within one cooldown, further keys are counted under one overflow key.
 *
 * @example
 * ```ts
 * import { ALERTS } from '@mortar/notify'
 *
 * const alerts = app.resolve(ALERTS)
 * await alerts.raise({ key: 'payments.down', title: 'Payment provider down', detail: String(error) })
 * await alerts.resolve('payments.down', 'Payments go through again.')
 * ```
 */
export class Alerts {
  readonly #states = new Map<string, KeyState>()
  readonly #notifier: Notifier
  readonly #admins: AlertAdmins
  readonly #channels: readonly AlertChannel[]
  readonly #cooldownMs: number
  readonly #clock: Clock
  readonly #logger: Logger
  readonly #host = `${hostname()}/${process.pid}`
  // Notices are written one after another, outside the caller's context: an alert raised inside
  // a transaction that rolls back (a failed login) must still go out, and on SQLite, with its
  // one connection, writing while the caller's transaction is open would wait for itself.
  readonly #detached = AsyncLocalStorage.snapshot()
  #queue: Promise<void> = Promise.resolve()
  /**
   * Notices whose write failed (the database down, often what is being alerted on), oldest
   * first: written again at the next check. Their keys' cooldowns started as if they had gone
   * out, so without this the first notice of an incident was gone, and its raises within the
   * cooldown counted into a "repeated" one nobody had seen the start of.
   */
  readonly #unsent: AlertNotice[] = []

  /** @internal made by `alertsModule` */
  constructor(options: {
    readonly notifier: Notifier
    readonly admins: AlertAdmins
    readonly channels: readonly AlertChannel[]
    readonly cooldownMs: number
    readonly clock: Clock
    readonly logger: Logger
  }) {
    this.#notifier = options.notifier
    this.#admins = options.admins
    this.#channels = options.channels
    this.#cooldownMs = options.cooldownMs
    this.#clock = options.clock
    this.#logger = options.logger
  }

  /**
   * Raises an alert: its notice is queued for the admins at once, or the raise is counted when
   * its key is cooling down. Notices are written to the ledger in the background, outside the
   * caller's transaction (so a rollback does not take the alert with it); {@link settled} waits
   * for them. A notice that cannot be written (the database is down) is logged, never thrown,
   * and written again at the next check ({@link flushDue}) or at stop.
   */
  async raise(alert: Alert): Promise<void> {
    const parsed = alertSchema.safeParse(alert)
    if (!parsed.success) throw ValidationError.fromZod(parsed.error, 'Invalid alert.')
    const now = this.#clock.nowMs()
    if (!this.#states.has(alert.key) && alert.key !== OVERFLOW_KEY && !this.#makeRoom(now)) {
      return this.raise({
        key: OVERFLOW_KEY,
        title: 'Alerts of more keys than are tracked at once',
        detail: `${MAX_KEYS} alert keys were raised within one cooldown; further keys are counted here. The latest: ${alert.key}: ${alert.title}`,
        severity: 'critical',
      })
    }
    const state = this.#states.get(alert.key)
    if (state !== undefined && this.#cooling(state, now)) {
      state.pending += 1
      state.last = alert
      state.open = true
      return
    }
    if (state !== undefined && state.pending > 0) {
      // The storm counted since the last notice goes out now, this raise with it: one notice,
      // not its count and a 'raised' at once.
      state.pending += 1
      state.last = alert
      state.open = true
      this.#flush(state, now)
      return
    }
    this.#states.set(alert.key, {
      sentAtMs: now,
      pending: 0,
      last: alert,
      open: true,
      notified: true,
    })
    this.#send({ state: 'raised', alert, count: 1, since: iso(now), host: this.#host })
  }

  /**
   * Says the condition behind `key` cleared: a "resolved" notice goes out when the key was
   * announced. Resolving a key that is not raised does nothing, so a monitor may call it freely.
   */
  async resolve(key: string, detail?: string): Promise<void> {
    const parsed = alertSchema.shape.detail.safeParse(detail)
    if (!parsed.success) throw ValidationError.fromZod(parsed.error, 'Invalid alert detail.')
    const state = this.#states.get(key)
    if (state === undefined || !state.open) return
    state.open = false
    if (!state.notified) return // only counted so far: the storm notice will say it cleared
    state.notified = false
    const alert: Alert = { ...state.last, detail: detail ?? state.last.detail }
    const counted = state.pending
    state.pending = 0
    this.#send({
      state: 'resolved',
      alert,
      count: counted,
      since: iso(state.sentAtMs),
      host: this.#host,
    })
  }

  /**
   * Writes again the notices whose write failed, then sends the storms whose cooldown ended; the
   * alerts module calls it on every check.
   */
  async flushDue(): Promise<void> {
    this.#resend()
    const now = this.#clock.nowMs()
    for (const [key, state] of this.#states) {
      if (this.#cooling(state, now)) continue
      if (state.pending > 0) this.#flush(state, now)
      else if (!state.open) this.#states.delete(key)
    }
  }

  /** Sends every counted storm now (at stop), whatever its cooldown. */
  async flushAll(): Promise<void> {
    this.#resend()
    const now = this.#clock.nowMs()
    for (const state of this.#states.values()) if (state.pending > 0) this.#flush(state, now)
    await this.settled()
  }

  /** Resolves once every notice raised so far is written to the ledger (or its failure logged). */
  settled(): Promise<void> {
    return this.#queue
  }

  /** Whether a new key may be tracked, after forgetting the key idle longest if need be. */
  #makeRoom(now: number): boolean {
    if (this.#states.size < MAX_KEYS) return true
    let idlest: [string, KeyState] | undefined
    for (const entry of this.#states) {
      const [key, state] = entry
      if (key === OVERFLOW_KEY || state.pending > 0 || this.#cooling(state, now)) continue
      if (idlest === undefined || state.sentAtMs < idlest[1].sentAtMs) idlest = entry
    }
    if (idlest === undefined) return false
    this.#states.delete(idlest[0])
    if (idlest[1].open) {
      this.#logger.warn(
        { alert: idlest[0] },
        'An open alert key was forgotten to make room for another: resolving it will send nothing.',
      )
    }
    return true
  }

  /**
   * Whether the key's cooldown still runs. A clock set back (an NTP step, a corrected host)
   * puts its last notice in the future: the cooldown is over then, else every raise would be
   * counted and none sent until the clock caught up with it, hours of a storm unannounced.
   */
  #cooling(state: KeyState, now: number): boolean {
    const elapsed = now - state.sentAtMs
    return elapsed >= 0 && elapsed < this.#cooldownMs
  }

  #flush(state: KeyState, now: number): void {
    const notice: AlertNotice = {
      state: 'repeated',
      alert: state.open
        ? state.last
        : {
            ...state.last,
            detail: [state.last.detail, 'It has cleared since.'].filter(Boolean).join('\n'),
          },
      count: state.pending,
      since: iso(state.sentAtMs),
      host: this.#host,
    }
    state.sentAtMs = now
    state.pending = 0
    state.notified = state.open
    this.#send(notice)
  }

  #resend(): void {
    for (const notice of this.#unsent.splice(0)) this.#send(notice)
  }

  #send(notice: AlertNotice): void {
    this.#queue = this.#queue.then(() => this.#detached(() => this.#write(notice)))
  }

  async #write(notice: AlertNotice): Promise<void> {
    try {
      const admins = typeof this.#admins === 'function' ? await this.#admins() : this.#admins
      if (admins.length === 0) {
        this.#logger.warn({ alert: notice.alert.key }, 'An admin alert has no admins to go to.')
        return
      }
      await this.#notifier.notify(admins, new AdminAlert(notice, this.#channels))
    } catch (err) {
      if (this.#unsent.length >= MAX_UNSENT) {
        const dropped = this.#unsent.shift()
        this.#logger.error(
          { alert: dropped?.alert.key, state: dropped?.state },
          `An admin alert notice was dropped: ${MAX_UNSENT} notices wait to be written again.`,
        )
      }
      this.#unsent.push(notice)
      this.#logger.error(
        { err, alert: notice.alert.key, state: notice.state },
        'An admin alert could not be recorded: it is written again at the next check.',
      )
    }
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString()
}
