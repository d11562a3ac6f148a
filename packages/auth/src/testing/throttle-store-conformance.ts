import { randomBytes } from 'node:crypto'
import type { VitestApi } from '@mortar/core/testing'
import type { ThrottleStore } from '../throttle/index.js'

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

const expiry = { nowMs: Date.UTC(2026, 0, 1), ttlMs: 60_000 }

/**
 * Registers vitest blocks that check a {@link ThrottleStore} against its contract: counters
 * start at one and count atomically under concurrency, keys are exact (case included), lockouts
 * round-trip and are replaced, and deletes remove both kinds. The memory, Kysely and Redis stores
 * run it; run it on yours. The first argument is vitest itself (see `VitestApi`): the kit does
 * not import it, so this entry loads without vitest.
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
  vitest: VitestApi,
  name: string,
  setup: () => ThrottleStoreSubject | Promise<ThrottleStoreSubject>,
  options: ThrottleStoreConformanceOptions = {},
): void {
  const { afterAll, beforeAll, describe, expect, it } = vitest
  const skip = options.skip
  if (skip !== undefined) {
    console.warn(`[@mortar/auth] ThrottleStore conformance on ${name} skipped: ${skip}`)
  }

  // Skipped only when the caller's server is not configured (an unset MORTAR_TEST_* variable):
  // the reason is printed above and shown in the title; .ci/run sets every variable, so CI runs it.
  const title = `ThrottleStore conformance: ${name}${skip === undefined ? '' : ` (skipped: ${skip})`}`
  describe.skipIf(skip !== undefined)(title, () => {
    let subject: ThrottleStoreSubject
    const key = (label: string) => `${label}:${randomBytes(6).toString('base64url')}`

    beforeAll(async () => {
      subject = await setup()
    })

    afterAll(async () => {
      await subject?.dispose?.()
    })

    it('starts a counter at 1 and adds one per increment', async () => {
      const counter = key('c')
      expect(await subject.store.increment(counter, expiry)).toBe(1)
      expect(await subject.store.increment(counter, expiry)).toBe(2)
      expect(await subject.store.counts([counter])).toEqual([2])
    })

    it('reads missing counters as 0, in the order asked', async () => {
      const [a, b, missing] = [key('c'), key('c'), key('c')]
      await subject.store.increment(b, expiry)
      await subject.store.increment(b, expiry)
      await subject.store.increment(a, expiry)
      expect(await subject.store.counts([missing, b, a])).toEqual([0, 2, 1])
      expect(await subject.store.counts([])).toEqual([])
    })

    it('gives every one of many concurrent increments its own count', async () => {
      const counter = key('c')
      const counts = await Promise.all(
        Array.from({ length: 25 }, () => subject.store.increment(counter, expiry)),
      )
      expect([...counts].sort((x, y) => x - y)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
      expect(await subject.store.counts([counter])).toEqual([25])
    })

    it('keeps keys that differ only in case apart', async () => {
      const base = randomBytes(6).toString('hex')
      await subject.store.increment(`c:Ab${base}`, expiry)
      expect(await subject.store.counts([`c:aB${base}`, `c:Ab${base}`])).toEqual([0, 1])
    })

    it('stores a lockout, replaces it, and reads none for an unknown key', async () => {
      const lock = key('l')
      expect(await subject.store.getLock(lock)).toBeUndefined()
      await subject.store.setLock(lock, { untilMs: 1_767_225_660_000, lockouts: 1 }, expiry)
      expect(await subject.store.getLock(lock)).toEqual({ untilMs: 1_767_225_660_000, lockouts: 1 })
      await subject.store.setLock(lock, { untilMs: 1_767_225_900_000, lockouts: 2 }, expiry)
      expect(await subject.store.getLock(lock)).toEqual({ untilMs: 1_767_225_900_000, lockouts: 2 })
    })

    it('deletes counters and lockouts, ignoring missing keys', async () => {
      const [counter, lock, other] = [key('c'), key('l'), key('c')]
      await subject.store.increment(counter, expiry)
      await subject.store.increment(other, expiry)
      await subject.store.setLock(lock, { untilMs: 1_767_225_660_000, lockouts: 3 }, expiry)
      await subject.store.delete([counter, lock, key('missing')])
      await subject.store.delete([])
      expect(await subject.store.counts([counter, other])).toEqual([0, 1])
      expect(await subject.store.getLock(lock)).toBeUndefined()
      expect(await subject.store.increment(counter, expiry)).toBe(1)
    })
  })
}
