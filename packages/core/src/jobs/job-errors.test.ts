import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MortarError } from '../errors/mortar-error.js'
import { MAX_RETRY_LATER_MS, RetryLaterJobError, retryLaterDelay } from './job-errors.js'

describe('retryLaterDelay', () => {
  it('takes any finite delay ≥ 0 up to a day, cuts a longer one to a day, and reads any other as none', () => {
    fc.assert(
      fc.property(fc.double(), (asked) => {
        const delay = retryLaterDelay(new RetryLaterJobError('busy', { retryAfterMs: asked }))
        const valid = Number.isFinite(asked) && asked >= 0
        expect(delay).toBe(valid ? Math.min(asked, MAX_RETRY_LATER_MS) : 0)
      }),
    )
  })

  it('reads the delay of one from another copy of core, and none from any other error', () => {
    // Another copy's class: a MortarError with the code, but not this RetryLaterJobError.
    const foreign = (retryAfterMs: unknown) =>
      Object.assign(new MortarError('E_JOB_RETRY_LATER', 503, 'busy'), { retryAfterMs })
    expect(retryLaterDelay(foreign(60_000))).toBe(60_000)
    expect(retryLaterDelay(foreign('3600'))).toBe(0)
    expect(retryLaterDelay(foreign(undefined))).toBe(0)
    expect(retryLaterDelay(Object.assign(new Error('busy'), { retryAfterMs: 60_000 }))).toBe(0)
    expect(retryLaterDelay(undefined)).toBe(0)
  })
})
