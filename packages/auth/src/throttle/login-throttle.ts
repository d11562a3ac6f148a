import { createHash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'
import { type Clock, type EventBus, isMortarError, globalToken } from '@mortar/core'
import {
  LoginThrottleConfigError,
  LoginThrottledError,
  LoginThrottleUnavailableError,
} from '../errors.js'
import type { SuspiciousActivity } from './suspicious-activity.js'
import type { ThrottleLock, ThrottleStore } from './throttle-store.js'

/** How many failures a window allows before a lockout. */
export interface ThrottleLimit {
  /** Failures that trigger a lockout. */
  readonly maxFailures: number
  /** The length of the sliding window, in seconds. */
  readonly windowSeconds: number
}

/** How long lockouts last: `seconds · 2^(n−1)` for the n-th in a row, at most `maxSeconds`. */
export interface LockoutPolicy {
  /** The first lockout, in seconds. */
  readonly seconds: number
  /** The longest lockout, in seconds. */
  readonly maxSeconds: number
  /** Lockouts in a row are forgotten this long after the last one ended, in seconds. */
  readonly forgetAfterSeconds: number
}

/** Options of {@link LoginThrottle}; every limit has a default. */
export interface LoginThrottleOptions {
  readonly store: ThrottleStore
  readonly clock: Clock
  /** Where `security.suspicious_activity` is published; no event without it. */
  readonly events?: EventBus
  /** Per account: 5 failures in 15 minutes by default. */
  readonly account?: Partial<ThrottleLimit>
  /**
   * Per client address (IPv6 by /64): 50 failures in 15 minutes by default, since many users
   * can share an address; `false` turns it off.
   */
  readonly ip?: Partial<ThrottleLimit> | false
  /** 1 minute, doubling up to 1 hour, forgotten after a day, by default. */
  readonly lockout?: Partial<LockoutPolicy>
  /** Publish `security.suspicious_activity` from the n-th lockout in a row on; 1 by default. */
  readonly alertAfterLockouts?: number
}

/** One login attempt: the account tried, and where from. */
export interface LoginAttempt {
  /** The email or user name as typed; trimmed and lower-cased for counting. */
  readonly account: string
  /** The client address (`requestContext().ip`), when known. */
  readonly ip?: string | undefined
}

/** What {@link LoginThrottle.recordFailure} did. */
export interface FailureOutcome {
  /** True when this failure locked the account or the address. */
  readonly locked: boolean
  /** Seconds until a login may be tried again; 0 when nothing is locked. */
  readonly retryAfterSeconds: number
}

type Scope = 'account' | 'ip'

interface Subject {
  readonly scope: Scope
  readonly id: string
  readonly limit: ThrottleLimit
}

const DEFAULT_ACCOUNT: ThrottleLimit = { maxFailures: 5, windowSeconds: 15 * 60 }
const DEFAULT_IP: ThrottleLimit = { maxFailures: 50, windowSeconds: 15 * 60 }
const DEFAULT_LOCKOUT: LockoutPolicy = {
  seconds: 60,
  maxSeconds: 60 * 60,
  forgetAfterSeconds: 24 * 60 * 60,
}

/**
 * Slows password guessing: failed logins are counted per account and per client address in a
 * sliding window, and past the limit that account or address is locked out, for twice as long
 * each time in a row. A lockout makes {@link LoginThrottle.check} throw `LoginThrottledError`
 * (429 with `Retry-After`) and publishes `security.suspicious_activity` once. Time comes from
 * the clock, counters live in a {@link ThrottleStore} (memory, SQL or Redis), and a store that
 * fails makes logins fail closed (503).
 *
 * @example
 * ```ts
 * import { LOGIN_THROTTLE, PASSWORD_HASHER } from '@mortar/auth'
 * import { requestContext, UnauthorizedError } from '@mortar/core'
 *
 * async function login(email: string, password: string) {
 *   const throttle = app.resolve(LOGIN_THROTTLE)
 *   const attempt = { account: email, ip: requestContext().ip }
 *   await throttle.check(attempt) // throws a 429 while locked
 *   const user = await users.findByEmail(email)
 *   if (!(await app.resolve(PASSWORD_HASHER).verifyOrDummy(user?.passwordHash, password))) {
 *     await throttle.recordFailure(attempt)
 *     throw new UnauthorizedError('Wrong email or password.')
 *   }
 *   await throttle.recordSuccess(attempt)
 * }
 * ```
 */
export class LoginThrottle {
  readonly #store: ThrottleStore
  readonly #clock: Clock
  readonly #events: EventBus | undefined
  readonly #account: ThrottleLimit
  readonly #ip: ThrottleLimit | undefined
  readonly #lockout: LockoutPolicy
  readonly #alertAfter: number

  constructor(options: LoginThrottleOptions) {
    this.#store = options.store
    this.#clock = options.clock
    this.#events = options.events
    this.#account = checkLimit('account', { ...DEFAULT_ACCOUNT, ...options.account })
    this.#ip = options.ip === false ? undefined : checkLimit('ip', { ...DEFAULT_IP, ...options.ip })
    this.#lockout = { ...DEFAULT_LOCKOUT, ...options.lockout }
    const { seconds, maxSeconds, forgetAfterSeconds } = this.#lockout
    if (!(seconds >= 1 && maxSeconds >= seconds && forgetAfterSeconds >= 0)) {
      throw new LoginThrottleConfigError(
        'LoginThrottle: lockout needs seconds ≥ 1, maxSeconds ≥ seconds and forgetAfterSeconds ≥ 0.',
      )
    }
    this.#alertAfter = options.alertAfterLockouts ?? 1
    if (!Number.isInteger(this.#alertAfter) || this.#alertAfter < 1) {
      throw new LoginThrottleConfigError(
        'LoginThrottle: alertAfterLockouts must be an integer ≥ 1.',
      )
    }
  }

  /**
   * Throws `LoginThrottledError` (429, with the seconds to wait) while the account or the
   * address is locked out. Call it before checking the password.
   */
  async check(attempt: LoginAttempt): Promise<void> {
    const nowMs = this.#clock.nowMs()
    const locks = await this.#guard(() =>
      Promise.all(this.#subjects(attempt).map((subject) => this.#store.getLock(lockKey(subject)))),
    )
    const untilMs = Math.max(0, ...locks.map((lock) => lock?.untilMs ?? 0))
    if (untilMs > nowMs) throw new LoginThrottledError((untilMs - nowMs) / 1000)
  }

  /**
   * Counts a failed login for the account and the address; when either reaches its limit it is
   * locked out, and `security.suspicious_activity` is published once for that lockout.
   */
  async recordFailure(attempt: LoginAttempt): Promise<FailureOutcome> {
    let retryAfterMs = 0
    let locked = false
    for (const subject of this.#subjects(attempt)) {
      const until = await this.#guard(() => this.#fail(subject, attempt))
      if (until === undefined) continue
      locked ||= until.fresh
      retryAfterMs = Math.max(retryAfterMs, until.untilMs - this.#clock.nowMs())
    }
    return { locked, retryAfterSeconds: Math.ceil(Math.max(0, retryAfterMs) / 1000) }
  }

  /**
   * Forgets the account's failures and lockouts after a successful login. The address keeps its
   * count: one success must not reset an attacker spraying many accounts.
   */
  async recordSuccess(attempt: LoginAttempt): Promise<void> {
    const [account] = this.#subjects(attempt)
    if (account === undefined) return
    const windowMs = account.limit.windowSeconds * 1000
    const current = Math.floor(this.#clock.nowMs() / windowMs)
    await this.#guard(() =>
      this.#store.delete([
        counterKey(account, current),
        counterKey(account, current - 1),
        lockKey(account),
      ]),
    )
  }

  // Returns the lockout the subject is under after this failure, if any.
  async #fail(
    subject: Subject,
    attempt: LoginAttempt,
  ): Promise<{ untilMs: number; fresh: boolean } | undefined> {
    const nowMs = this.#clock.nowMs()
    const key = lockKey(subject)
    const lock = await this.#store.getLock(key)
    // A failure during a lockout (a caller that skipped check()) neither counts nor extends it.
    if (lock !== undefined && lock.untilMs > nowMs) return { untilMs: lock.untilMs, fresh: false }

    // Sliding window, approximated from two fixed windows: this one's count plus the previous
    // one's, weighted by how much of it still overlaps the last `windowSeconds`.
    const windowMs = subject.limit.windowSeconds * 1000
    const current = Math.floor(nowMs / windowMs)
    const count = await this.#store.increment(counterKey(subject, current), {
      nowMs,
      ttlMs: 2 * windowMs,
    })
    const [previous = 0] = await this.#store.counts([counterKey(subject, current - 1)])
    const overlap = 1 - (nowMs - current * windowMs) / windowMs
    const failures = count + previous * overlap
    // Only the failure that crosses the limit locks: concurrent ones got other counts.
    if (failures < subject.limit.maxFailures || failures - 1 >= subject.limit.maxFailures) {
      return undefined
    }
    const next = this.#nextLock(lock, nowMs)
    const forgetMs = this.#lockout.forgetAfterSeconds * 1000
    await this.#store.setLock(key, next, { nowMs, ttlMs: next.untilMs - nowMs + forgetMs })
    // A fresh allowance once the lockout ends; its length grows instead.
    await this.#store.delete([counterKey(subject, current), counterKey(subject, current - 1)])
    if (this.#events !== undefined && next.lockouts >= this.#alertAfter) {
      await this.#events.publish(
        'security.suspicious_activity',
        activity(subject, attempt, next, nowMs),
      )
    }
    return { untilMs: next.untilMs, fresh: true }
  }

  #nextLock(previous: ThrottleLock | undefined, nowMs: number): ThrottleLock {
    const { seconds, maxSeconds, forgetAfterSeconds } = this.#lockout
    const remembered =
      previous !== undefined && previous.untilMs + forgetAfterSeconds * 1000 > nowMs
    const lockouts = remembered ? previous.lockouts + 1 : 1
    const durationSeconds = Math.min(seconds * 2 ** Math.min(lockouts - 1, 30), maxSeconds)
    return { untilMs: nowMs + durationSeconds * 1000, lockouts }
  }

  #subjects(attempt: LoginAttempt): Subject[] {
    const subjects: Subject[] = []
    const account = normalizeAccount(attempt.account)
    if (account !== '') subjects.push({ scope: 'account', id: account, limit: this.#account })
    const ip = attempt.ip === undefined ? '' : addressKey(attempt.ip)
    if (ip !== '' && this.#ip !== undefined) subjects.push({ scope: 'ip', id: ip, limit: this.#ip })
    return subjects
  }

  async #guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (error) {
      if (isMortarError(error)) throw error
      throw new LoginThrottleUnavailableError(
        'The login throttle cannot reach its store, so logins are refused until it is back; check the database or Redis.',
        { cause: error },
      )
    }
  }
}

/**
 * The app's {@link LoginThrottle}, bound by `loginThrottleModule`.
 *
 * @example
 * ```ts
 * import { LOGIN_THROTTLE } from '@mortar/auth'
 *
 * await app.resolve(LOGIN_THROTTLE).check({ account: 'ada@example.com', ip: '203.0.113.7' })
 * ```
 */
export const LOGIN_THROTTLE = globalToken<LoginThrottle>('mortar.auth.login_throttle')

function checkLimit(scope: Scope, limit: ThrottleLimit): ThrottleLimit {
  if (!Number.isInteger(limit.maxFailures) || limit.maxFailures < 1) {
    throw new LoginThrottleConfigError(
      `LoginThrottle: ${scope}.maxFailures must be an integer ≥ 1.`,
    )
  }
  if (!Number.isInteger(limit.windowSeconds) || limit.windowSeconds < 1) {
    throw new LoginThrottleConfigError(
      `LoginThrottle: ${scope}.windowSeconds must be an integer ≥ 1.`,
    )
  }
  return limit
}

function normalizeAccount(account: string): string {
  return String(account).normalize('NFC').trim().toLowerCase()
}

// Keys hold a digest, never the account or address: the store sees no personal data, and a key
// has a fixed length whatever was typed.
function digest(subject: Subject): string {
  return createHash('sha256').update(`${subject.scope}\0${subject.id}`).digest('base64url')
}

function counterKey(subject: Subject, window: number): string {
  return `c:${digest(subject)}:${window}`
}

function lockKey(subject: Subject): string {
  return `l:${digest(subject)}`
}

function activity(
  subject: Subject,
  attempt: LoginAttempt,
  lock: ThrottleLock,
  nowMs: number,
): SuspiciousActivity {
  const account = normalizeAccount(attempt.account)
  return {
    kind: 'login_lockout',
    scope: subject.scope,
    ...(account === '' ? {} : { account }),
    ...(attempt.ip === undefined || attempt.ip === '' ? {} : { ip: attempt.ip }),
    lockouts: lock.lockouts,
    lockedUntil: new Date(lock.untilMs).toISOString(),
    at: new Date(nowMs).toISOString(),
  }
}

/**
 * The address to count by: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a whole
 * /64, so counting single addresses would be no limit at all), IPv4-mapped IPv6 as IPv4.
 */
export function addressKey(ip: string): string {
  const address = ip.trim()
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1]
  if (!isIPv6(address)) return address.toLowerCase()
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]?.split('::') ?? []
  const left = head === '' ? [] : head.split(':')
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : []
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`
}
