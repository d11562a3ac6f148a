import { describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { throttleStoreConformance } from '../../testing/index.js'
import type { ThrottleRule } from '../throttle-store.js'
import { MemoryThrottleStore } from './memory-throttle-store.js'

throttleStoreConformance(vitest, 'memory', () => ({ store: new MemoryThrottleStore() }))

const rule: ThrottleRule = {
  limit: 5,
  windowMs: 1_000,
  lockoutMs: 1_000,
  maxLockoutMs: 1_000,
  forgetMs: 0,
}

describe('MemoryThrottleStore', () => {
  it('forgets expired entries as it writes, so memory stays bounded', async () => {
    const store = new MemoryThrottleStore()
    for (let i = 0; i < 1023; i++) await store.reserve(`k:${i}`, rule, 0)
    expect(store.size).toBe(1023)
    await store.reserve('k:late', rule, 5_000)
    expect(store.size).toBe(1)
  })

  it('keeps an entry while it still locks or remembers a lockout', async () => {
    const store = new MemoryThrottleStore()
    const remembering = { ...rule, limit: 1, forgetMs: 10_000 }
    await store.reserve('k:a', remembering, 0)
    expect(await store.reserve('k:a', remembering, 0)).toMatchObject({ lockedNow: true })
    for (let i = 0; i < 1021; i++) await store.reserve(`k:${i}`, rule, 0)
    expect(store.size).toBe(1022)
    await store.reserve('k:late', rule, 5_000)
    expect(store.size).toBe(2)
    // Remembered: the next lockout in a row is the second.
    await store.reserve('k:a', remembering, 5_000)
    expect(await store.reserve('k:a', remembering, 5_000)).toMatchObject({ lockouts: 2 })
  })
})
