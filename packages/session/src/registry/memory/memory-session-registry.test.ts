import { createApp } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { makeSessionRecord, sessionRegistryConformance } from '../../testing/index.js'
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
