import { AssertionError } from 'node:assert/strict'
import { describe, expect, it } from 'vitest'
import { MemorySessionRegistry } from '../registry/memory/memory-session-registry.js'
import type { SessionOwner, SessionRecord, SessionRegistry } from '../registry/session-registry.js'
import { assertNoAliasing } from './registry-aliasing.js'

// Stores and returns the very objects it is given: the fault the check exists for.
class AliasingRegistry implements SessionRegistry {
  readonly records = new Map<string, SessionRecord>()
  async create(record: SessionRecord): Promise<void> {
    this.records.set(record.id, record)
  }
  async find(id: string): Promise<SessionRecord | undefined> {
    return this.records.get(id)
  }
  async touch(id: string, lastSeenAt: Date): Promise<void> {
    const record = this.records.get(id)
    if (record !== undefined) this.records.set(id, { ...record, lastSeenAt })
  }
  async list(userId: string): Promise<readonly SessionRecord[]> {
    return [...this.records.values()].filter((record) => record.userId === userId)
  }
  async revoke(session: SessionOwner): Promise<boolean> {
    return this.records.delete(session.id)
  }
  async revokeAll(): Promise<number> {
    return 0
  }
}

// Copies on create, but hands out what it stores.
class LeakyReadsRegistry extends AliasingRegistry {
  override async create(record: SessionRecord): Promise<void> {
    await super.create({
      ...record,
      createdAt: new Date(record.createdAt),
      lastSeenAt: new Date(record.lastSeenAt),
    })
  }
}

// Copies records in and out, but keeps the Date given to touch.
class KeepsTouchDateRegistry extends MemorySessionRegistry {
  readonly #dates = new Map<string, Date>()
  override async touch(id: string, lastSeenAt: Date): Promise<void> {
    this.#dates.set(id, lastSeenAt)
  }
  override async find(id: string): Promise<SessionRecord | undefined> {
    const found = await super.find(id)
    const date = this.#dates.get(id)
    return found === undefined || date === undefined ? found : { ...found, lastSeenAt: date }
  }
}

describe('the registry kit’s aliasing check', () => {
  it.each([
    ['keeps the object given to create', new AliasingRegistry(), /create/],
    ['returns the stored object from find', new LeakyReadsRegistry(), /find returned/],
    ['keeps the date given to touch', new KeepsTouchDateRegistry(), /touch/],
  ])('fails a registry that %s', async (_name, registry, step) => {
    const failure = await assertNoAliasing(registry).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(AssertionError)
    expect((failure as AssertionError).message).toMatch(step)
  })

  it('passes the memory registry', async () => {
    await expect(assertNoAliasing(new MemorySessionRegistry())).resolves.toBeUndefined()
  })
})
