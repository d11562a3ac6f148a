import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { uuidV7, uuidV7Time } from './uuid-v7.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('uuidV7', () => {
  it('is an RFC 9562 version 7 id carrying its millisecond timestamp', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 48 - 1 }), (ms) => {
        const id = uuidV7(ms)
        expect(id).toMatch(UUID_V7)
        expect(uuidV7Time(id)).toBe(ms)
      }),
    )
  })

  it('sorts as text in time order across milliseconds', () => {
    const ids = [1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map(uuidV7)
    expect([...ids].sort()).toEqual(ids)
  })

  it('does not repeat over many ids in one millisecond', () => {
    const ids = new Set(Array.from({ length: 50_000 }, () => uuidV7(1_700_000_000_000)))
    expect(ids.size).toBe(50_000)
  })
})
