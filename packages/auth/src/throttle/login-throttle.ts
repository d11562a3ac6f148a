import { createHash } from 'node:crypto'
import { isIPv6 } from 'node:net'
import { type Clock, type EventBus, isMortarError, globalToken } from '@mortar/core'
import {
  LoginThrottleConfigError,
  LoginThrottledError,
  LoginThrottleUnavailableError,
  PasswordHasherBusyError,
} from '../errors.js'
import type { SuspiciousActivity } from './suspicious-activity.js'
import type { ThrottleRule, ThrottleStore } from './throttle-store.js'

/** How many failed attempts a window allows; the next attempt starts a lockout. */
export interface ThrottleLimit {
  /** Failed attempts (and attempts still running) a window allows. */
  readonly maxFailures: number
  /** The length of a window, in seconds; it opens at the first attempt after the last closed. */
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

type Scope = 'account' | 'ip'

interface Subject {
  readonly scope: Scope
  readonly id: string
  readonly rule: ThrottleRule
}

const DEFAULT_ACCOUNT: ThrottleLimit = { maxFailures: 5, windowSeconds: 15 * 60 }
const DEFAULT_IP: ThrottleLimit = { maxFailures: 50, windowSeconds: 15 * 60 }
const DEFAULT_LOCKOUT: LockoutPolicy = {
  seconds: 60,
  maxSeconds: 60 * 60,
  forgetAfterSeconds: 24 * 60 * 60,
}

/**
 * Slows password guessing. Every login attempt is counted per account and per client address
 * before the password is checked, in one atomic step of the store that also answers whether it
 * may run, so parallel attempts cannot slip past the limit. Past the limit the account or the
 * address is locked out, for twice as long each time in a row: attempts are refused with
 * `LoginThrottledError` (429 with `Retry-After`) without running the check, and
 * `security.suspicious_activity` is published once per lockout. A successful login gives its
 * attempts back. Time comes from the clock, state lives in a {@link ThrottleStore} (memory, SQL
 * or Redis), and a store that fails makes logins fail closed (503).
 *
 * @example
 * ```ts
 * import { LOGIN_THROTTLE, PASSWORD_HASHER } from '@mortar/auth'
 * import { requestContext, UnauthorizedError } from '@mortar/core'
 *
 * async function login(email: string, password: string) {
 *   const hasher = app.resolve(PASSWORD_HASHER) // bound by a module of yours (see PASSWORD_HASHER)
 *   const user = await app.resolve(LOGIN_THROTTLE).attempt(
 *     { account: email, ip: requestContext().ip },
 *     async () => {
 *       const found = await users.findByEmail(email)
 *       return (await hasher.verifyOrDummy(found?.passwordHash, password)) ? found : undefined
 *     },
 *   ) // throws a 429, without calling the check, while locked
 *   if (user === undefined) throw new UnauthorizedError('Wrong email or password.')
 *   return user
 * }
 * ```
 */
export class LoginThrottle {
  readonly #store: ThrottleStore
  readonly #clock: Clock
  readonly #events: EventBus | undefined
  readonly #account: ThrottleRule
  readonly #ip: ThrottleRule | undefined
  readonly #alertAfter: number

  constructor(options: LoginThrottleOptions) {
    this.#store = options.store
    this.#clock = options.clock
    this.#events = options.events
    const lockout = { ...DEFAULT_LOCKOUT, ...options.lockout }
    const { seconds, maxSeconds, forgetAfterSeconds } = lockout
    if (
      !(
        Number.isInteger(seconds) &&
        Number.isInteger(maxSeconds) &&
        Number.isInteger(forgetAfterSeconds) &&
        seconds >= 1 &&
        maxSeconds >= seconds &&
        forgetAfterSeconds >= 0
      )
    ) {
      throw new LoginThrottleConfigError(
        'LoginThrottle: lockout needs integer seconds ≥ 1, maxSeconds ≥ seconds and forgetAfterSeconds ≥ 0.',
      )
    }
    this.#account = rule('account', { ...DEFAULT_ACCOUNT, ...options.account }, lockout)
    this.#ip =
      options.ip === false ? undefined : rule('ip', { ...DEFAULT_IP, ...options.ip }, lockout)
    this.#alertAfter = options.alertAfterLockouts ?? 1
    if (!Number.isInteger(this.#alertAfter) || this.#alertAfter < 1) {
      throw new LoginThrottleConfigError(
        'LoginThrottle: alertAfterLockouts must be an integer ≥ 1.',
      )
    }
  }

  /**
   * Runs `verify` (the password check) for one login attempt, throttled: the attempt is counted
   * for the address and the account first, and while either is over its limit `verify` is not
   * called and `LoginThrottledError` (429) is thrown. `verify` answers the user (an object), or
   * `undefined` for a wrong password; the attempt then stays counted and `undefined` is returned. A success
   * forgets the account's failures and lockouts and gives the address its attempt back (one
   * success must not reset an address spraying many accounts). A `verify` that throws counts as
   * a failure, except `PasswordHasherBusyError` (no password was checked): that attempt is given
   * back.
   */
  async attempt<T extends object>(
    login: LoginAttempt,
    verify: () => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const nowMs = this.#clock.nowMs()
    const held: { subject: Subject; windowEndsMs: number }[] = []
    // The address first: an address that is locked out costs the account nothing.
    for (const subject of this.#subjects(login).reverse()) {
      const reservation = await this.#guard(() =>
        this.#store.reserve(key(subject), subject.rule, nowMs),
      )
      if (!reservation.allowed) {
        // Refused attempts are not failures: what was counted for this one is given back.
        for (const other of held) {
          await this.#guard(() => this.#store.release(key(other.subject), other.windowEndsMs))
        }
        if (reservation.lockedNow && reservation.lockouts >= this.#alertAfter) {
          await this.#events?.publish(
            'security.suspicious_activity',
            activity(subject, login, reservation.lockouts, nowMs + reservation.retryAfterMs, nowMs),
          )
        }
        throw new LoginThrottledError(reservation.retryAfterMs / 1000)
      }
      held.push({ subject, windowEndsMs: reservation.windowEndsMs })
    }
    let user: T | undefined
    try {
      user = await verify()
    } catch (error) {
      // Refused before any password was checked (every hash slot busy): no guess was made, so
      // the attempt is given back. Counted, anyone's burst of logins turned the retries of the
      // users it delayed into failures that locked their accounts and addresses out.
      if (error instanceof PasswordHasherBusyError) {
        for (const { subject, windowEndsMs } of held) {
          await this.#guard(() => this.#store.release(key(subject), windowEndsMs))
        }
      }
      throw error
    }
    // Anything but the user is a failure, a `null` or `false` from plain JavaScript included.
    if (!user) return undefined
    for (const { subject, windowEndsMs } of held) {
      await this.#guard(() =>
        subject.scope === 'account'
          ? this.#store.reset(key(subject))
          : this.#store.release(key(subject), windowEndsMs),
      )
    }
    return user
  }

  #subjects(attempt: LoginAttempt): Subject[] {
    // Even an empty account is counted (all of them as one): nothing runs unthrottled.
    const subjects: Subject[] = [
      { scope: 'account', id: accountKey(attempt.account), rule: this.#account },
    ]
    const ip = attempt.ip === undefined ? '' : addressKey(attempt.ip)
    if (ip !== '' && this.#ip !== undefined) subjects.push({ scope: 'ip', id: ip, rule: this.#ip })
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
 * const user = await app
 *   .resolve(LOGIN_THROTTLE)
 *   .attempt({ account: 'ada@example.com', ip: '203.0.113.7' }, () => checkPassword())
 * ```
 */
export const LOGIN_THROTTLE = globalToken<LoginThrottle>('mortar.auth.login_throttle')

function rule(scope: Scope, limit: ThrottleLimit, lockout: LockoutPolicy): ThrottleRule {
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
  return {
    limit: limit.maxFailures,
    windowMs: limit.windowSeconds * 1000,
    lockoutMs: lockout.seconds * 1000,
    maxLockoutMs: lockout.maxSeconds * 1000,
    forgetMs: lockout.forgetAfterSeconds * 1000,
  }
}

function normalizeAccount(account: string): string {
  return String(account).normalize('NFC').trim().toLowerCase()
}

// Characters that no lookup of a name or an email tells apart: combining marks (accents),
// whitespace and separators, controls, format and default-ignorable characters (zero-width
// spaces, soft hyphens, variation selectors).
const UNCOUNTED = /[\p{M}\p{White_Space}\p{Z}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/gu

/**
 * The spelling an account is counted under. Every spelling that the app's user lookup might
 * take for the same account must count as one, or a guesser gets a fresh limit per spelling;
 * databases often compare case-, accent- and width-insensitively and skip ignorable characters
 * (MariaDB's and MySQL's default collations, ICU's), so this folds compatibility forms (`ｆ`,
 * `ﬁ`), case (`ß` as `ss`), accents, whitespace and ignorable characters, Latin letters that
 * ICU's first level takes for ASCII ones (`ø` as `o`, `đ` and `ð` as `d`, `œ` as `oe`), and
 * runs of `s` as one (MariaDB's default utf8mb4_general_ci has `ß` = `s`, its unicode_ci
 * `ß` = `ss`). Two accounts that fold alike only share a count.
 */
export function accountKey(account: string): string {
  // Latin letters first, composed: NFKD would write `ŀ` as `l·`, which ICU does not take for `l`;
  // and again after, for those that compatibility forms decompose to (`𐞃` to `æ`).
  return foldLatin(foldCase(foldLatin(String(account).normalize('NFC')))).replace(/s+/g, 's')
}

function foldLatin(text: string): string {
  return text.replace(LATIN, (char) => latinFolds().get(char) ?? char)
}

function foldCase(text: string): string {
  return (
    text
      .normalize('NFKD')
      // Lower, upper, lower: `ẞ` and `ß` both end as `ss`, `İ` and `ı` as `i`.
      .toLowerCase()
      .toUpperCase()
      .toLowerCase()
      .normalize('NFKD')
      .replace(UNCOUNTED, '')
  )
}

// Latin-1 to Latin Extended-B, and Latin Extended Additional.
const LATIN = /[\u0080-\u024f\u1e00-\u1eff]/gu
// What a Latin letter may be taken for: an ASCII letter or digit, or one of the digraphs
// Unicode collations expand letters to.
const ASCII_FOLDS = [...'abcdefghijklmnopqrstuvwxyz0123456789', 'ae', 'oe', 'th', 'ss', 'ij']
let latinFoldTable: ReadonlyMap<string, string> | undefined

/**
 * The Latin letters mapped to the ASCII text ICU's root collation takes them for at its first
 * level, where there is one (`ø` and `Ø` to `o`, `ŀ` to `l`, `œ` to `oe`). Built once, on first
 * use (some twenty thousand comparisons).
 */
function latinFolds(): ReadonlyMap<string, string> {
  if (latinFoldTable !== undefined) return latinFoldTable
  const base = new Intl.Collator('und', { sensitivity: 'base' })
  const table = new Map<string, string>()
  for (const [from, to] of [
    [0x80, 0x24f],
    [0x1e00, 0x1eff],
  ] as const) {
    for (let code = from; code <= to; code++) {
      const char = String.fromCodePoint(code)
      const ascii = ASCII_FOLDS.find((candidate) => base.compare(char, candidate) === 0)
      if (ascii !== undefined) table.set(char, ascii)
    }
  }
  latinFoldTable = table
  return table
}

// Keys hold a digest, never the account or address: the store sees no personal data, and a key
// has a fixed length whatever was typed.
function digest(subject: Subject): string {
  return createHash('sha256').update(`${subject.scope}\0${subject.id}`).digest('base64url')
}

function key(subject: Subject): string {
  return digest(subject)
}

function activity(
  subject: Subject,
  attempt: LoginAttempt,
  lockouts: number,
  untilMs: number,
  nowMs: number,
): SuspiciousActivity {
  const account = normalizeAccount(attempt.account)
  return {
    kind: 'login_lockout',
    scope: subject.scope,
    ...(account === '' ? {} : { account }),
    ...(attempt.ip === undefined || attempt.ip === '' ? {} : { ip: attempt.ip }),
    lockouts,
    lockedUntil: new Date(untilMs).toISOString(),
    at: new Date(nowMs).toISOString(),
  }
}

/**
 * The address to count by: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a whole
 * /64, so counting single addresses would be no limit at all), an IPv4-mapped IPv6 address in
 * any spelling (`::ffff:192.0.2.1`, `::ffff:c000:201`, `0:0:0:0:0:ffff:…`) as the IPv4 client it
 * is, not as the one /64 that every such client would share.
 */
export function addressKey(ip: string): string {
  const address = ip.trim().toLowerCase().split('%')[0] ?? ''
  if (!isIPv6(address)) return address
  const groups = ipv6Groups(address)
  const [g6 = 0, g7 = 0] = groups.slice(6)
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `${g6 >> 8}.${g6 & 255}.${g7 >> 8}.${g7 & 255}`
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`
}

/** The eight 16-bit groups of a valid IPv6 address, `::` expanded and a trailing IPv4 split. */
function ipv6Groups(address: string): number[] {
  let text = address
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (quad !== null) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number]
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...fill, ...right].map((group) => Number.parseInt(group, 16))
}
