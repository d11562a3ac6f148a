import { safeText, ValidationError } from '@mortar/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Notification, notificationFields } from './notification.js'

class Ping extends Notification {
  constructor(readonly key: unknown) {
    super()
  }
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'ping' }
  }
}

// What the ledger's varchar(191) columns store as given: the rules of core's safeText.
const stored = safeText({ min: 1, max: 191 })

describe('notificationFields', () => {
  it('takes a key exactly when core’s safeText with the columns’ length takes it', () => {
    const piece = fc.oneof(
      fc.string({ maxLength: 8 }),
      fc.constantFrom('\u0000', '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D\uDE00', 'é'),
    )
    const key = fc.oneof(
      fc.array(piece, { maxLength: 40 }).map((pieces) => pieces.join('')),
      fc.integer({ min: 185, max: 196 }).map((n) => 'k'.repeat(n)),
      fc.constantFrom(`${'k'.repeat(190)}\uD83D\uDE00`, `${'k'.repeat(189)}\uD83D\uDE00`),
    )
    fc.assert(
      fc.property(key, (value) => {
        const taken = stored.safeParse(value).success
        const check = () => notificationFields(new Ping(value))
        if (taken) expect(check().key).toBe(value)
        else expect(check).toThrow(ValidationError)
      }),
      { numRuns: 2_000 },
    )
  })

  it('refuses a field that is no string, and leaves an unset one to its default', () => {
    expect(() => notificationFields(new Ping(42))).toThrow(ValidationError)
    expect(notificationFields(new Ping(null))).toMatchObject({
      type: 'Ping',
      category: 'default',
      key: undefined,
    })
  })
})
