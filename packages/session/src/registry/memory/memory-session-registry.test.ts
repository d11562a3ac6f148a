import { createApp } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { makeSessionRecord, sessionRegistryConformance } from '../../testing/index.js'
import { SessionConfigError } from '../../errors.js'
import { SESSION_REGISTRY } from '../session-registry.js'
import { MemorySessionRegistry, memorySessionRegistry } from './memory-session-registry.js'

sessionRegistryConformance(vitest, 'memory', () => new MemorySessionRegistry())

describe('MemorySessionRegistry', () => {
  it('stores a copy, so changing the given record changes nothing stored', async () => {
    const registry = new MemorySessionRegistry()
    const record = makeSessionRecord()
    await registry.create(record)
    record.lastSeenAt.setTime(0)
    expect((await registry.find(record.id))?.lastSeenAt.getTime()).not.toBe(0)
  })

  it('forgets sessions idle past pruneIdleAfter as logins go on, so memory does not grow for good', async () => {
    const registry = new MemorySessionRegistry({ pruneIdleAfter: 3_600 })
    const day = 86_400_000
    const old = makeSessionRecord({ createdAt: new Date(0), lastSeenAt: new Date(0) })
    const recent = makeSessionRecord({ createdAt: new Date(day), lastSeenAt: new Date(day) })
    await registry.create(old)
    await registry.create(recent)
    for (let i = 0; i < 256; i++) {
      const at = new Date(day + 60_000)
      await registry.create(makeSessionRecord({ createdAt: at, lastSeenAt: at }))
    }
    // Before, every session stayed until logout, whatever its age.
    expect(await registry.find(old.id)).toBeUndefined()
    expect(await registry.find(recent.id)).toBeDefined()
    expect(() => new MemorySessionRegistry({ pruneIdleAfter: 0 })).toThrow(SessionConfigError)
  })
})

describe('memorySessionRegistry', () => {
  it('binds SESSION_REGISTRY to one registry for the whole app', async () => {
    const app = createApp({ modules: [memorySessionRegistry()] })
    await app.start()
    const record = makeSessionRecord()
    await app.resolve(SESSION_REGISTRY).create(record)
    expect(await app.resolve(SESSION_REGISTRY).find(record.id)).toEqual(record)
    await app.stop()
  })
})
