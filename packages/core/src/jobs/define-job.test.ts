import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createTestApp } from '../testing/index.js'
import type { BackoffOptions } from './backoff.js'
import { defineJob } from './define-job.js'
import { MAX_RETRY_LATER_MS } from './job-errors.js'

const job = (timeout: number) =>
  defineJob({ name: 'test.timeout', schema: z.object({}), timeout, handler: () => undefined })

describe('defineJob', () => {
  it('refuses a timeout that a timer cannot wait for (none, negative, NaN, infinite, past 2^31 − 1 ms), which would fail every attempt at once', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.double({ max: 0 }),
          fc.double({ min: 2 ** 31, noNaN: true }),
          fc.constantFrom(
            Number.NaN,
            Number.POSITIVE_INFINITY,
            30 * 86_400_000,
            '1000' as unknown as number,
          ),
        ),
        (timeout) => {
          expect(() => job(timeout)).toThrow(TypeError)
        },
      ),
    )
  })

  it('refuses a backoff wait that is not a finite number from 0 to a day, maxMs as baseMs (property)', () => {
    // maxMs: Infinity was taken (only baseMs was checked for being finite): a job's later
    // retries were parked up to 2^47 ms, 4,400 years, away.
    const backoff = (value: BackoffOptions) =>
      defineJob({ name: 'test.backoff', schema: z.object({}), backoff: value, handler: () => {} })
    const bad = fc.oneof(
      fc.double({ max: -Number.MIN_VALUE }),
      fc.double({ min: MAX_RETRY_LATER_MS + 1, noNaN: true }),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, '5000' as unknown as number),
    )
    fc.assert(
      fc.property(bad, (value) => {
        expect(() => backoff({ baseMs: 0, maxMs: value })).toThrow(TypeError)
        expect(() => backoff({ baseMs: value, maxMs: MAX_RETRY_LATER_MS })).toThrow(TypeError)
        expect(() => backoff({ maxMs: value })).toThrow(TypeError)
      }),
    )
    expect(() => backoff({ baseMs: 2_000, maxMs: 1_000 })).toThrow(TypeError)
    expect(backoff({ baseMs: 0, maxMs: MAX_RETRY_LATER_MS }).backoff.maxMs).toBe(MAX_RETRY_LATER_MS)
  })

  it('refuses attempts past 2^31 − 1, the stored column’s limit on every engine', () => {
    // MariaDB's INSERT IGNORE clamped them to 2^31 − 1 with a warning; PostgreSQL refused every
    // enqueue with a 422, the definition's fault reported as the caller's input.
    const attempts = (value: number) =>
      defineJob({ name: 'test.attempts', schema: z.object({}), attempts: value, handler: () => {} })
    for (const value of [2 ** 31, 3_000_000_000, Number.MAX_SAFE_INTEGER, 0, 1.5, Number.NaN]) {
      expect(() => attempts(value), String(value)).toThrow(TypeError)
    }
    expect(attempts(2 ** 31 - 1).attempts).toBe(2 ** 31 - 1)
  })

  it('refuses a name with a NUL or a lone surrogate, which no engine stores as written (property)', () => {
    // A lone surrogate was stored as U+FFFD on SQLite, PostgreSQL and MariaDB alike: the job was
    // enqueued (an id came back) and no worker ever claimed it. A NUL failed every enqueue on
    // PostgreSQL only.
    const named = (name: string) =>
      defineJob({ name, schema: z.object({}), handler: () => undefined })
    const bad = fc.constantFrom('\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF')
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), bad, fc.string({ maxLength: 40 }), (a, c, b) => {
        // A low surrogate right after a high one would pair with it: keep them apart.
        expect(() => named(`${a}.${c}.${b}`)).toThrow(/without NUL or a lone surrogate/)
      }),
    )
    expect(named('orders.receipt 🧾').name).toBe('orders.receipt 🧾')
  })

  it('keeps a timeout from 1 ms to 2^31 − 1 ms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (timeout) => {
        expect(job(timeout).timeout).toBe(timeout)
      }),
    )
  })
})

describe('jobs.workers settings', () => {
  it('refuses a setting a timer cannot wait for, naming it, when the app starts', async () => {
    for (const pollMs of [2 ** 31, Number.NaN, Number.POSITIVE_INFINITY, 0, -1, 1.5]) {
      const app = createTestApp({ modules: [], jobs: { workers: { pollMs } } })
      await expect(app.start()).rejects.toThrow(/jobs\.workers\.pollMs/)
      await app.stop()
    }
  })
})
