import { createLogger, EventBus, TooManyRequestsError, toProblem } from '@mortar/core'
import { createTestApp, FakeClock } from '@mortar/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  LoginThrottleConfigError,
  LoginThrottledError,
  PasswordHasherBusyError,
} from '../errors.js'
import {
  accountKey,
  addressKey,
  LOGIN_THROTTLE,
  LoginThrottle,
  type LoginThrottleOptions,
} from './login-throttle.js'
import { loginThrottleModule } from './login-throttle-module.js'
import { MemoryThrottleStore } from './memory/index.js'
import { type SuspiciousActivity, suspiciousActivitySchema } from './suspicious-activity.js'
import type { ThrottleStore } from './throttle-store.js'

function setup(options: Partial<LoginThrottleOptions> = {}) {
  const clock = new FakeClock('2026-01-01T00:00:00Z')
  const events = new EventBus(createLogger())
  events.define('security.suspicious_activity', suspiciousActivitySchema)
  const alerts: SuspiciousActivity[] = []
  events.subscribe('security.suspicious_activity', (event) => void alerts.push(event))
  const throttle = new LoginThrottle({
    store: new MemoryThrottleStore(),
    clock,
    events,
    ...options,
  })
  return { clock, throttle, alerts }
}

type Login = { account: string; ip?: string }

const wrong = async () => undefined

async function fail(throttle: LoginThrottle, times: number, login: Login) {
  for (let i = 0; i < times; i++) expect(await throttle.attempt(login, wrong)).toBeUndefined()
}

// Seconds the next attempt would be told to wait (0 when it runs), and whether it was checked.
async function retryAfter(throttle: LoginThrottle, login: Login) {
  let checked = false
  const error = await throttle
    .attempt(login, async () => {
      checked = true
      return undefined
    })
    .then(
      () => undefined,
      (caught: unknown) => caught,
    )
  if (error instanceof LoginThrottledError) {
    expect(checked).toBe(false)
    return error.retryAfterSeconds
  }
  if (error !== undefined) throw error
  return 0
}

const ada = { account: 'ada@example.com', ip: '203.0.113.7' }

describe('LoginThrottle', () => {
  it('refuses the attempt after five failures with a 429 and Retry-After, before checking even the right password', async () => {
    const { clock, throttle } = setup()
    await fail(throttle, 5, ada)
    let checked = 0
    const right = async () => {
      checked += 1
      return { id: 'ada' }
    }
    const error = await throttle.attempt(ada, right).catch((caught: unknown) => caught)
    expect(checked).toBe(0)
    expect(error).toBeInstanceOf(LoginThrottledError)
    expect(error).toBeInstanceOf(TooManyRequestsError)
    const problem = toProblem(error as Error, { requestId: 'r-1' })
    expect(problem.status).toBe(429)
    expect(problem.headers['retry-after']).toBe('60')
    expect(problem.body).toMatchObject({ code: 'E_LOGIN_THROTTLED' })
    clock.advance(45_000)
    await expect(throttle.attempt(ada, right)).rejects.toMatchObject({ retryAfterSeconds: 15 })
    expect(checked).toBe(0)
    clock.advance(15_000)
    await expect(throttle.attempt(ada, right)).resolves.toEqual({ id: 'ada' })
    expect(checked).toBe(1)
  })

  it('starts a fresh count when the lockout ends', async () => {
    const { clock, throttle } = setup()
    await fail(throttle, 5, ada)
    expect(await retryAfter(throttle, ada)).toBe(60)
    clock.advance(60_000)
    await fail(throttle, 5, ada)
    expect(await retryAfter(throttle, ada)).toBe(120)
  })

  it('checks at most five of 200 parallel wrong passwords, and alerts once', async () => {
    const { throttle, alerts } = setup({ ip: false })
    let checked = 0
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, () =>
        throttle.attempt(ada, async () => {
          checked += 1
          await new Promise((resolve) => setImmediate(resolve))
          return undefined
        }),
      ),
    )
    expect(checked).toBe(5)
    expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toHaveLength(195)
    expect(alerts).toHaveLength(1)
  })

  it('locks by account whatever the case or spacing, and from any address', async () => {
    const { throttle } = setup()
    await fail(throttle, 5, { account: ' ADA@example.com', ip: '198.51.100.1' })
    expect(await retryAfter(throttle, { account: 'ada@EXAMPLE.com', ip: '192.0.2.99' })).toBe(60)
    expect(await retryAfter(throttle, { account: 'bob@example.com', ip: '198.51.100.1' })).toBe(0)
  })

  it('locks an account under every spelling a user lookup may take for it', async () => {
    // Counted NFC, trimmed and lower-cased, each of these had a fresh limit of its own, while
    // MariaDB's default collations (and ICU's) find the same user for all of them.
    const { throttle } = setup()
    await fail(throttle, 1, { account: 'jose@example.com' })
    await fail(throttle, 1, { account: 'JOSÉ@EXAMPLE.COM' })
    await fail(throttle, 1, { account: 'ｊｏｓｅ@ｅｘａｍｐｌｅ.ｃｏｍ' })
    await fail(throttle, 1, { account: 'jo\u200Bse@exam\u00ADple.com\u00A0' })
    await fail(throttle, 1, { account: 'jo\u0073\u0065\u0301@example.com' })
    expect(await retryAfter(throttle, { account: 'Jose@Example.com' })).toBe(60)
    expect(await retryAfter(throttle, { account: 'josh@example.com' })).toBe(0)
  })

  it('folds any respelling of an account to its key, and keys to themselves', () => {
    const ignorable = [
      '\u200B',
      '\u200C',
      '\u200D',
      '\u00AD',
      '\uFEFF',
      '\u2060',
      '\uFE0F',
      ' ',
      '\t',
      '\u00A0',
      '\u3000',
    ]
    const respell = (char: string, how: number, extra: string) =>
      [
        char,
        char.toUpperCase(),
        char.toLowerCase(),
        // Fullwidth forms of ASCII.
        /[!-~]/.test(char) ? String.fromCharCode(char.charCodeAt(0) + 0xfee0) : char,
        `${char.normalize('NFD')}\u0301`,
        `${extra}${char}`,
        char.normalize('NFKC'),
      ][how] ?? char
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...'abcdefgijklmnopqrstuvwxyzéüßẞñåç0123456789@._-+İı'), {
          minLength: 1,
          maxLength: 24,
        }),
        fc.array(fc.tuple(fc.nat(6), fc.constantFrom(...ignorable)), {
          minLength: 24,
          maxLength: 24,
        }),
        fc.constantFrom('NFC', 'NFD', 'NFKC', 'NFKD'),
        (chars, edits, form) => {
          const account = chars.join('')
          const spelled = chars.map((char, i) => respell(char, edits[i]![0], edits[i]![1])).join('')
          expect(accountKey(spelled.normalize(form))).toBe(accountKey(account))
        },
      ),
      { numRuns: 2000 },
    )
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        expect(accountKey(accountKey(text))).toBe(accountKey(text))
      }),
      { numRuns: 5000 },
    )
  })

  it('doubles each lockout in a row up to the maximum, and forgets them after a quiet day', async () => {
    const { clock, throttle } = setup({ lockout: { seconds: 60, maxSeconds: 300 } })
    const lockouts: number[] = []
    for (let i = 0; i < 4; i++) {
      await fail(throttle, 5, ada)
      const seconds = await retryAfter(throttle, ada)
      lockouts.push(seconds)
      clock.advance(seconds * 1000)
    }
    expect(lockouts).toEqual([60, 120, 240, 300])
    clock.advance(24 * 60 * 60 * 1000)
    await fail(throttle, 5, ada)
    expect(await retryAfter(throttle, ada)).toBe(60)
  })

  it('counts failures in a window opened by the first one, whatever the wall clock says', async () => {
    const { clock, throttle } = setup()
    clock.set('2026-01-01T00:14:00Z')
    await fail(throttle, 4, ada)
    // Past a quarter hour of the wall clock, but inside the window opened at 00:14.
    clock.set('2026-01-01T00:16:00Z')
    await fail(throttle, 1, ada)
    expect(await retryAfter(throttle, ada)).toBe(60)
  })

  it('forgets failures older than the window', async () => {
    const { clock, throttle } = setup()
    await fail(throttle, 4, ada)
    clock.advance(15 * 60 * 1000)
    await fail(throttle, 4, ada)
    expect(await retryAfter(throttle, ada)).toBe(0)
  })

  it('locks an address that fails on many accounts, and not other addresses', async () => {
    const { throttle, alerts } = setup({ ip: { maxFailures: 6 } })
    for (let i = 0; i < 6; i++) {
      await fail(throttle, 1, { account: `user${i}@example.com`, ip: '203.0.113.50' })
    }
    expect(await retryAfter(throttle, { account: 'new@example.com', ip: '203.0.113.50' })).toBe(60)
    expect(await retryAfter(throttle, { account: 'new@example.com', ip: '203.0.113.51' })).toBe(0)
    expect(alerts).toMatchObject([{ scope: 'ip', ip: '203.0.113.50', account: 'new@example.com' }])
  })

  it('counts IPv6 clients by their /64', async () => {
    const { throttle } = setup({ ip: { maxFailures: 3 } })
    await fail(throttle, 1, { account: 'a@x.io', ip: '2001:db8:1:2::1' })
    await fail(throttle, 1, { account: 'b@x.io', ip: '2001:db8:1:2:ffff::9' })
    await fail(throttle, 1, { account: 'c@x.io', ip: '2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd' })
    expect(await retryAfter(throttle, { account: 'd@x.io', ip: '2001:db8:1:2::42' })).toBe(60)
    expect(await retryAfter(throttle, { account: 'd@x.io', ip: '2001:db8:1:3::42' })).toBe(0)
    for (const mapped of [
      '::ffff:192.0.2.1',
      '::FFFF:192.0.2.1',
      '::ffff:c000:201',
      '0:0:0:0:0:ffff:192.0.2.1',
      '0000:0000:0000:0000:0000:ffff:c000:0201',
    ]) {
      // As one /64 (0:0:0:0::/64) they were one client: one guesser locked out every IPv4 user.
      expect(addressKey(mapped)).toBe('192.0.2.1')
    }
    expect(addressKey('2001:db8::ffff:192.0.2.1')).toBe('2001:db8:0:0::/64')
    expect(addressKey('fe80::1%ETH0')).toBe('fe80:0:0:0::/64')
    expect(addressKey('::1')).toBe('0:0:0:0::/64')
  })

  it('forgets the account’s failures after a success, and the address counts only failures', async () => {
    const { throttle } = setup({ ip: { maxFailures: 9 } })
    await fail(throttle, 4, ada)
    expect(await throttle.attempt(ada, async () => ({ id: 'ada' }))).toEqual({ id: 'ada' })
    // Many successes from the address give their attempts back: they never lock it.
    for (let i = 0; i < 20; i++) await throttle.attempt(ada, async () => ({ id: 'ada' }))
    // Four more on the account lock nothing: its first four were forgotten.
    await fail(throttle, 4, ada)
    // The address has seen eight failures by now: the ninth, on another account, fills it.
    await fail(throttle, 1, { account: 'eve@example.com', ip: ada.ip })
    expect(await retryAfter(throttle, { account: 'zed@example.com', ip: ada.ip })).toBe(60)
  })

  it('does not count against the address the attempts a locked account refused', async () => {
    const { throttle } = setup({ ip: { maxFailures: 8 } })
    await fail(throttle, 5, ada)
    for (let i = 0; i < 20; i++) expect(await retryAfter(throttle, ada)).toBeGreaterThan(0)
    await fail(throttle, 3, { account: 'bob@example.com', ip: ada.ip })
    expect(await retryAfter(throttle, { account: 'cy@example.com', ip: ada.ip })).toBe(60)
  })

  it('counts a null or false answer from plain JavaScript as a failure, and throttles empty accounts', async () => {
    const { throttle } = setup({ ip: false })
    const untyped = [null, false] as unknown as object[]
    for (let i = 0; i < 5; i++) {
      const answer = untyped[i % 2]
      expect(await throttle.attempt(ada, async () => answer)).toBeUndefined()
    }
    expect(await retryAfter(throttle, ada)).toBe(60)
    await fail(throttle, 5, { account: '  ' })
    expect(await retryAfter(throttle, { account: '' })).toBe(60)
  })

  it('counts a check that throws as a failure', async () => {
    const { throttle } = setup()
    for (let i = 0; i < 5; i++) {
      await expect(
        throttle.attempt(ada, () => Promise.reject(new Error('database down'))),
      ).rejects.toThrow('database down')
    }
    expect(await retryAfter(throttle, ada)).toBe(60)
  })

  it('gives back an attempt whose password the busy hasher never checked', async () => {
    // Counted as failures, a burst from anyone locked out the accounts (and addresses) of the
    // users whose retries it delayed.
    const { throttle } = setup({ ip: { maxFailures: 5 } })
    for (let i = 0; i < 10; i++) {
      await expect(
        throttle.attempt(ada, () => Promise.reject(new PasswordHasherBusyError())),
      ).rejects.toBeInstanceOf(PasswordHasherBusyError)
    }
    await fail(throttle, 4, ada)
    expect(await retryAfter(throttle, ada)).toBe(0)
    expect(await retryAfter(throttle, ada)).toBe(60)
  })

  it('publishes security.suspicious_activity once per lockout, not per refused attempt', async () => {
    const { clock, throttle, alerts } = setup()
    await fail(throttle, 5, ada)
    for (let i = 0; i < 3; i++) expect(await retryAfter(throttle, ada)).toBe(60)
    expect(alerts).toEqual([
      {
        kind: 'login_lockout',
        scope: 'account',
        account: 'ada@example.com',
        ip: '203.0.113.7',
        lockouts: 1,
        lockedUntil: '2026-01-01T00:01:00.000Z',
        at: '2026-01-01T00:00:00.000Z',
      },
    ])
    clock.advance(60_000)
    await fail(throttle, 5, ada)
    expect(await retryAfter(throttle, ada)).toBe(120)
    expect(alerts.map((alert) => alert.lockouts)).toEqual([1, 2])
  })

  it('alerts only from the configured lockout in a row on', async () => {
    const { clock, throttle, alerts } = setup({ alertAfterLockouts: 2 })
    await fail(throttle, 5, ada)
    await retryAfter(throttle, ada)
    expect(alerts).toHaveLength(0)
    clock.advance(60_000)
    await fail(throttle, 5, ada)
    await retryAfter(throttle, ada)
    expect(alerts).toMatchObject([{ lockouts: 2, scope: 'account' }])
  })

  it('fails closed with a 503, without checking the password, when the store is unreachable', async () => {
    const broken: ThrottleStore = {
      reserve: () => Promise.reject(new Error('ECONNREFUSED 10.0.0.1')),
      release: () => Promise.reject(new Error('ECONNREFUSED')),
      reset: () => Promise.reject(new Error('ECONNREFUSED')),
    }
    const throttle = new LoginThrottle({ store: broken, clock: new FakeClock() })
    let checked = false
    const check = async () => {
      checked = true
      return { id: 'ada' }
    }
    await expect(throttle.attempt(ada, check)).rejects.toMatchObject({
      code: 'E_LOGIN_THROTTLE_UNAVAILABLE',
      status: 503,
    })
    expect(checked).toBe(false)
  })

  it('refuses limits it cannot work with', () => {
    const base = { store: new MemoryThrottleStore(), clock: new FakeClock() }
    expect(() => new LoginThrottle({ ...base, account: { maxFailures: 0 } })).toThrow(
      LoginThrottleConfigError,
    )
    expect(() => new LoginThrottle({ ...base, ip: { windowSeconds: 0.5 } })).toThrow(
      LoginThrottleConfigError,
    )
    expect(() => new LoginThrottle({ ...base, lockout: { seconds: 600, maxSeconds: 60 } })).toThrow(
      LoginThrottleConfigError,
    )
    expect(() => new LoginThrottle({ ...base, lockout: { seconds: 1.5 } })).toThrow(
      LoginThrottleConfigError,
    )
    expect(() => new LoginThrottle({ ...base, alertAfterLockouts: 0 })).toThrow(
      LoginThrottleConfigError,
    )
  })
})

describe('loginThrottleModule', () => {
  it('binds a throttle on the app’s clock and bus, and gives the event its schema', async () => {
    const app = createTestApp({ modules: [loginThrottleModule({ store: 'memory', ip: false })] })
    await app.start()
    const { EVENT_BUS } = await import('@mortar/core')
    const bus = app.resolve(EVENT_BUS)
    const alerts: SuspiciousActivity[] = []
    bus.subscribe('security.suspicious_activity', (event) => void alerts.push(event))
    const throttle = app.resolve(LOGIN_THROTTLE)
    await fail(throttle, 5, ada)
    expect(await retryAfter(throttle, ada)).toBe(60)
    expect(alerts).toMatchObject([{ scope: 'account', at: '2026-01-01T00:00:00.000Z' }])
    app.clock.advance(60_000)
    expect(await retryAfter(throttle, ada)).toBe(0)
    await expect(
      bus.publish('security.suspicious_activity', { kind: 'login_lockout' } as SuspiciousActivity),
    ).rejects.toMatchObject({ code: 'E_VALIDATION' })
    await app.stop()
  })
})
