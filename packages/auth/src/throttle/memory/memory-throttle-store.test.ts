import { describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { throttleStoreConformance } from '../../testing/index.js'
import { MemoryThrottleStore } from './memory-throttle-store.js'

throttleStoreConformance(vitest, 'memory', () => ({ store: new MemoryThrottleStore() }))

describe('MemoryThrottleStore', () => {
  it('forgets expired entries as it writes, so memory stays bounded', async () => {
    const store = new MemoryThrottleStore()
    for (let i = 0; i < 1023; i++) await store.increment(`c:${i}`, { nowMs: 0, ttlMs: 1_000 })
    expect(store.size).toBe(1023)
    await store.increment('c:late', { nowMs: 5_000, ttlMs: 1_000 })
    expect(store.size).toBe(1)
  })

  it('restarts an expired counter at 1', async () => {
    const store = new MemoryThrottleStore()
    await store.increment('c:x', { nowMs: 0, ttlMs: 1_000 })
    await store.increment('c:x', { nowMs: 500, ttlMs: 1_000 })
    expect(await store.increment('c:x', { nowMs: 1_400, ttlMs: 1_000 })).toBe(3)
    expect(await store.increment('c:x', { nowMs: 2_300, ttlMs: 1_000 })).toBe(4)
    expect(await store.increment('c:x', { nowMs: 9_000, ttlMs: 1_000 })).toBe(1)
  })
})
