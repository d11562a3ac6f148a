import { AssertionError, deepStrictEqual, ok, strictEqual } from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createLogger, EventBus } from '@mortar/core'
import { FakeClock, type VitestApi } from '@mortar/core/testing'
import { LoginThrottledError } from '../errors.js'
import {
  LoginThrottle,
  type SuspiciousActivity,
  suspiciousActivitySchema,
  type ThrottleReservation,
  type ThrottleRule,
  type ThrottleStore,
} from '../throttle/index.js'

/** What a conformance setup returns: the store, and how to release it after the suite. */
export interface ThrottleStoreSubject {
  readonly store: ThrottleStore
  /** Runs after the suite: drop the schema, delete the keys, close the client. */
  dispose?(): void | Promise<void>
}

/** Options of {@link throttleStoreConformance}. */
export interface ThrottleStoreConformanceOptions {
  /** Set to skip the suite, with a one-line notice saying why (an unset variable, say). */
  readonly skip?: string | undefined
}

interface ThrottleStoreCase {
  readonly title: string
  run(store: ThrottleStore): Promise<void>
}

const T0 = Date.UTC(2026, 0, 1)
// Long enough that a store expiring keys by real time (Redis) keeps them through a test.
const RULE: ThrottleRule = {
  limit: 3,
  windowMs: 60_000,
  lockoutMs: 60_000,
  maxLockoutMs: 240_000,
  forgetMs: 600_000,
}
// Many more attempts than the limit, all in flight at once, as an attacker sends them.
const PARALLEL = 200

const key = () => `k:${randomBytes(9).toString('base64url')}`

const allowedAt = (windowEndsMs: number): ThrottleReservation => ({ allowed: true, windowEndsMs })

const refused = (
  retryAfterMs: number,
  lockedNow: boolean,
  lockouts: number,
): ThrottleReservation => ({ allowed: false, retryAfterMs, lockedNow, lockouts })

async function reserveTimes(store: ThrottleStore, k: string, times: number, nowMs: number) {
  const answers: ThrottleReservation[] = []
  for (let i = 0; i < times; i++) answers.push(await store.reserve(k, RULE, nowMs))
  return answers
}

// Runs one full lockout cycle at `nowMs` and returns the lockout's answer.
async function lockOut(store: ThrottleStore, k: string, nowMs: number) {
  const answers = await reserveTimes(store, k, RULE.limit + 1, nowMs)
  ok(
    answers.slice(0, RULE.limit).every((answer) => answer.allowed),
    'the limit is allowed',
  )
  return answers[RULE.limit]
}

// The contract of `ThrottleStore` as a pure function, to compare stores with on any sequence.
interface ModelState {
  readonly count: number
  readonly windowEndsMs: number
  readonly lockedUntilMs: number
  readonly lockouts: number
}

const EMPTY: ModelState = { count: 0, windowEndsMs: 0, lockedUntilMs: 0, lockouts: 0 }

function modelReserve(
  state: ModelState,
  rule: ThrottleRule,
  nowMs: number,
): [ModelState, ThrottleReservation] {
  if (state.lockedUntilMs > nowMs) {
    return [state, refused(state.lockedUntilMs - nowMs, false, state.lockouts)]
  }
  const open = state.windowEndsMs > nowMs
  if (open && state.count >= rule.limit) {
    const lockouts = (state.lockedUntilMs + rule.forgetMs > nowMs ? state.lockouts : 0) + 1
    const durationMs = Math.min(rule.lockoutMs * 2 ** Math.min(lockouts - 1, 30), rule.maxLockoutMs)
    const locked = { count: 0, windowEndsMs: 0, lockedUntilMs: nowMs + durationMs, lockouts }
    return [locked, refused(durationMs, true, lockouts)]
  }
  const windowEndsMs = open ? state.windowEndsMs : nowMs + rule.windowMs
  return [{ ...state, count: open ? state.count + 1 : 1, windowEndsMs }, allowedAt(windowEndsMs)]
}

type Step =
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'reserve'; readonly parallel: number }
  | { readonly kind: 'release' }
  | { readonly kind: 'reset' }

const byJson = (answers: readonly ThrottleReservation[]) =>
  answers.map((answer) => JSON.stringify(answer)).sort()

const cases: readonly ThrottleStoreCase[] = [
  {
    title: 'allows `limit` attempts in a window; the next starts a lockout that refuses the rest',
    async run(store) {
      const k = key()
      deepStrictEqual(
        await reserveTimes(store, k, RULE.limit, T0),
        Array.from({ length: RULE.limit }, () => allowedAt(T0 + RULE.windowMs)),
      )
      deepStrictEqual(await store.reserve(k, RULE, T0 + 10), refused(60_000, true, 1))
      // Refusals neither count nor extend the lockout.
      deepStrictEqual(await store.reserve(k, RULE, T0 + 1_010), refused(59_000, false, 1))
      deepStrictEqual(await store.reserve(k, RULE, T0 + 60_009), refused(1, false, 1))
    },
  },
  {
    title: `lets exactly \`limit\` of ${PARALLEL} parallel attempts through, and locks exactly once`,
    async run(store) {
      const k = key()
      const answers = await Promise.all(
        Array.from({ length: PARALLEL }, () => store.reserve(k, RULE, T0)),
      )
      const allowed = answers.filter((answer) => answer.allowed).length
      const lockedNow = answers.filter((answer) => !answer.allowed && answer.lockedNow).length
      // A store that checks and then records lets every one of them through.
      strictEqual(allowed, RULE.limit, `${allowed} of ${PARALLEL} parallel attempts were allowed`)
      strictEqual(lockedNow, 1, `${lockedNow} reservations started the lockout`)
      deepStrictEqual(await store.reserve(k, RULE, T0 + 1), refused(59_999, false, 1))
    },
  },
  {
    title:
      'starts a fresh window when a lockout ends, and doubles the next lockout up to the maximum',
    async run(store) {
      const k = key()
      deepStrictEqual(await lockOut(store, k, T0), refused(60_000, true, 1))
      deepStrictEqual(await lockOut(store, k, T0 + 60_000), refused(120_000, true, 2))
      deepStrictEqual(await lockOut(store, k, T0 + 180_000), refused(240_000, true, 3))
      deepStrictEqual(await lockOut(store, k, T0 + 420_000), refused(240_000, true, 4))
    },
  },
  {
    title: 'forgets lockouts in a row `forgetMs` after the last one ended',
    async run(store) {
      const k = key()
      await lockOut(store, k, T0)
      deepStrictEqual(
        await lockOut(store, k, T0 + 60_000 + RULE.forgetMs - 1),
        refused(120_000, true, 2),
      )
      const ended = T0 + 60_000 + RULE.forgetMs - 1 + 120_000
      deepStrictEqual(await lockOut(store, k, ended + RULE.forgetMs), refused(60_000, true, 1))
    },
  },
  {
    title: 'opens a new window once the last one closed, counting from zero',
    async run(store) {
      const k = key()
      await reserveTimes(store, k, RULE.limit, T0)
      const next = T0 + RULE.windowMs
      deepStrictEqual(
        await reserveTimes(store, k, RULE.limit, next),
        Array.from({ length: RULE.limit }, () => allowedAt(next + RULE.windowMs)),
      )
      deepStrictEqual(await store.reserve(k, RULE, next), refused(60_000, true, 1))
    },
  },
  {
    title: 'gives an attempt back on release, only in the window it was counted in',
    async run(store) {
      const k = key()
      const [first] = await reserveTimes(store, k, RULE.limit, T0)
      await store.release(k, T0 + RULE.windowMs)
      deepStrictEqual(await store.reserve(k, RULE, T0), allowedAt(T0 + RULE.windowMs))
      deepStrictEqual((await store.reserve(k, RULE, T0)).allowed, false)

      // A release from a window that has since closed gives nothing back in the new one.
      const other = key()
      deepStrictEqual(await store.reserve(other, RULE, T0), allowedAt(T0 + RULE.windowMs))
      const next = T0 + RULE.windowMs
      await reserveTimes(store, other, RULE.limit, next)
      await store.release(other, first?.allowed === true ? first.windowEndsMs : 0)
      deepStrictEqual(await store.reserve(other, RULE, next), refused(60_000, true, 1))
      // Nor does one during a lockout, nor one for a key never seen.
      await store.release(other, next + RULE.windowMs)
      deepStrictEqual(await store.reserve(other, RULE, next + 1), refused(59_999, false, 1))
      await store.release(key(), T0 + RULE.windowMs)
    },
  },
  {
    title: 'forgets attempts, the lockout and lockouts in a row on reset',
    async run(store) {
      const k = key()
      await lockOut(store, k, T0)
      await store.reset(k)
      deepStrictEqual(await lockOut(store, k, T0 + 1), refused(60_000, true, 1))
      await store.reset(key())
    },
  },
  {
    title: 'keeps keys that differ only in case apart',
    async run(store) {
      const base = randomBytes(6).toString('hex')
      await lockOut(store, `k:Ab${base}`, T0)
      deepStrictEqual(await store.reserve(`k:aB${base}`, RULE, T0), allowedAt(T0 + RULE.windowMs))
    },
  },
  {
    title: `runs the password check at most \`maxFailures\` times for ${PARALLEL} parallel wrong passwords, and never during the lockout`,
    async run(store) {
      const clock = new FakeClock(new Date(T0))
      const events = new EventBus(createLogger({ level: 'silent' }))
      events.define('security.suspicious_activity', suspiciousActivitySchema)
      const alerts: SuspiciousActivity[] = []
      events.subscribe('security.suspicious_activity', (event) => void alerts.push(event))
      const throttle = new LoginThrottle({ store, clock, events, account: { maxFailures: 5 } })
      const login = { account: `${randomBytes(6).toString('hex')}@example.com` }
      let checks = 0
      const wrong = async () => {
        checks += 1
        await new Promise((resolve) => setImmediate(resolve))
        return undefined
      }
      const outcomes = await Promise.allSettled(
        Array.from({ length: PARALLEL }, () => throttle.attempt(login, wrong)),
      )
      strictEqual(checks, 5, `${checks} of ${PARALLEL} parallel wrong passwords were checked`)
      strictEqual(outcomes.filter((outcome) => outcome.status === 'fulfilled').length, 5)
      ok(
        outcomes.every(
          (outcome) =>
            outcome.status === 'fulfilled' || outcome.reason instanceof LoginThrottledError,
        ),
        'every refusal is a LoginThrottledError',
      )
      strictEqual(alerts.length, 1, `${alerts.length} alerts for one lockout`)

      // The right password during the lockout is refused before it is checked.
      let rightChecks = 0
      const right = async () => {
        rightChecks += 1
        return { id: 'user' }
      }
      const during = await throttle.attempt(login, right).catch((error: unknown) => error)
      ok(during instanceof LoginThrottledError, 'the right password is refused while locked')
      strictEqual(rightChecks, 0)

      // When the lockout ends the count is fresh: maxFailures checks again, then a lockout.
      clock.advance(60_000)
      for (let i = 0; i < 5; i++) strictEqual(await throttle.attempt(login, wrong), undefined)
      const again = await throttle.attempt(login, right).catch((error: unknown) => error)
      ok(again instanceof LoginThrottledError, 'the sixth attempt after the lockout is refused')
      strictEqual(checks, 10)
      deepStrictEqual(
        alerts.map((alert) => alert.lockouts),
        [1, 2],
      )
    },
  },
  {
    title:
      'answers as the contract does on random sequences of attempts, bursts, releases, resets and waits',
    async run(store) {
      const fc = await import('fast-check')
      const rules = fc.record({
        limit: fc.integer({ min: 1, max: 4 }),
        // Minutes, not milliseconds: a store may expire keys by its own clock (Redis TTLs).
        windowMs: fc.constantFrom(60_000, 90_000),
        lockoutMs: fc.constant(60_000),
        maxLockoutMs: fc.constantFrom(60_000, 240_000),
        forgetMs: fc.constantFrom(0, 120_000),
      })
      const step: import('fast-check').Arbitrary<Step> = fc.oneof(
        fc.record({
          kind: fc.constant('advance' as const),
          ms: fc.oneof(
            fc.constantFrom(0, 1, 59_999, 60_000, 90_000, 120_000, 240_000),
            fc.integer({ min: 0, max: 600_000 }),
          ),
        }),
        fc.record({
          kind: fc.constant('reserve' as const),
          parallel: fc.integer({ min: 1, max: 6 }),
        }),
        fc.record({ kind: fc.constant('release' as const) }),
        fc.record({ kind: fc.constant('reset' as const) }),
      )
      const property = fc.asyncProperty(
        rules,
        fc.array(step, { maxLength: 30 }),
        async (rule, steps) => {
          const k = key()
          let state = EMPTY
          let nowMs = T0
          let lastWindow = 0
          for (const next of steps) {
            if (next.kind === 'advance') nowMs += next.ms
            else if (next.kind === 'reset') {
              await store.reset(k)
              state = EMPTY
            } else if (next.kind === 'release') {
              await store.release(k, lastWindow)
              if (state.windowEndsMs === lastWindow && state.count > 0) {
                state = { ...state, count: state.count - 1 }
              }
            } else {
              const expected: ThrottleReservation[] = []
              for (let i = 0; i < next.parallel; i++) {
                const [after, answer] = modelReserve(state, rule, nowMs)
                state = after
                expected.push(answer)
                if (answer.allowed) lastWindow = answer.windowEndsMs
              }
              const answers = await Promise.all(
                Array.from({ length: next.parallel }, () => store.reserve(k, rule, nowMs)),
              )
              deepStrictEqual(byJson(answers), byJson(expected))
            }
          }
        },
      )
      // Reported as an assertion, with the shortest counterexample fast-check found.
      const details = await fc.check(property, { numRuns: 40 })
      if (details.failed) {
        throw new AssertionError({ message: fc.defaultReportMessage(details) ?? 'property failed' })
      }
    },
  },
]

/**
 * Registers vitest tests that check a {@link ThrottleStore} against its contract: `limit`
 * attempts per window and then a lockout; many parallel reservations letting exactly `limit`
 * through and locking once (a store that checks and then records fails here); lockouts that
 * double, end with a fresh count and are forgotten; releases only in their window; resets; exact
 * keys; and a `LoginThrottle` on the store checking at most `maxFailures` of many parallel wrong
 * passwords and no password at all while locked. The memory, Kysely and Redis stores run it; run
 * it on yours. The first argument is vitest itself (see `VitestApi`): the kit does not import
 * it, so this entry loads without vitest.
 *
 * @example
 * ```ts
 * import { throttleStoreConformance } from '@mortar/auth/testing'
 * import * as vitest from 'vitest'
 * import { MyThrottleStore } from './my-throttle-store.js'
 *
 * throttleStoreConformance(vitest, 'MyThrottleStore', async () => ({ store: new MyThrottleStore() }))
 * ```
 */
export function throttleStoreConformance(
  vitest: Pick<VitestApi, 'describe' | 'it' | 'beforeAll' | 'afterAll'>,
  name: string,
  setup: () => ThrottleStoreSubject | Promise<ThrottleStoreSubject>,
  options: ThrottleStoreConformanceOptions = {},
): void {
  const { afterAll, beforeAll, describe, it } = vitest
  const skip = options.skip
  if (skip !== undefined) {
    console.warn(`[@mortar/auth] ThrottleStore conformance on ${name} skipped: ${skip}`)
  }

  // Skipped only when the caller's server is not configured (an unset MORTAR_TEST_* variable):
  // the reason is printed above and shown in the title; .ci/run sets every variable, so CI runs it.
  const title = `ThrottleStore conformance: ${name}${skip === undefined ? '' : ` (skipped: ${skip})`}`
  describe.skipIf(skip !== undefined)(title, () => {
    let subject: ThrottleStoreSubject | undefined

    beforeAll(async () => {
      subject = await setup()
    })

    afterAll(async () => {
      await subject?.dispose?.()
    })

    for (const check of cases) {
      it(check.title, async () => {
        if (subject === undefined) throw new Error('the conformance setup did not run')
        await check.run(subject.store)
      })
    }
  })
}

/** The titles of the conformance cases `store` fails; the kit's own tests use it. */
export async function failingThrottleStoreCases(store: ThrottleStore): Promise<string[]> {
  const failed: string[] = []
  for (const check of cases) {
    try {
      await check.run(store)
    } catch (error) {
      if (!(error instanceof AssertionError)) throw error
      failed.push(check.title)
    }
  }
  return failed
}
