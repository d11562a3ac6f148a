import { deepStrictEqual } from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { SessionRecord, SessionRegistry } from '../registry/index.js'

type Writable = { -readonly [K in keyof SessionRecord]: SessionRecord[K] }

function clone(record: SessionRecord): SessionRecord {
  return {
    ...record,
    createdAt: new Date(record.createdAt.getTime()),
    lastSeenAt: new Date(record.lastSeenAt.getTime()),
  }
}

// Changes every field a caller could reach, dates in place included.
function scribble(record: SessionRecord): void {
  const writable = record as Writable
  writable.userId = 'scribbled'
  writable.ip = '198.51.100.99'
  writable.userAgent = 'scribbled'
  record.createdAt.setTime(0)
  record.lastSeenAt.setTime(0)
}

/**
 * Checks that a registry keeps what it stores apart from the objects its callers pass in and get
 * back: changing a record after `create`, a record `find` or `list` returned, or the date given
 * to `touch`, changes nothing stored. A registry that keeps the caller's object (an in-memory one
 * that stores what it is given) fails it. Throws an `AssertionError` naming the step.
 */
export async function assertNoAliasing(registry: SessionRegistry): Promise<void> {
  const userId = `user-${randomBytes(16).toString('base64url')}`
  const record: SessionRecord = {
    id: randomBytes(16).toString('base64url'),
    userId,
    createdAt: new Date(1_760_000_000_123),
    lastSeenAt: new Date(1_760_000_001_456),
    ip: '203.0.113.7',
    userAgent: 'Mozilla/5.0 (aliasing)',
  }
  const stored = clone(record)
  await registry.create(record)
  scribble(record)
  deepStrictEqual(await registry.find(stored.id), stored, 'changing the record given to create')

  const found = await registry.find(stored.id)
  if (found !== undefined) scribble(found)
  deepStrictEqual(await registry.find(stored.id), stored, 'changing a record find returned')

  for (const listed of await registry.list(userId)) scribble(listed)
  deepStrictEqual(await registry.list(userId), [stored], 'changing the records list returned')

  const seen = new Date(stored.lastSeenAt.getTime() + 60_000)
  await registry.touch(stored.id, seen)
  const touched = { ...stored, lastSeenAt: new Date(seen.getTime()) }
  seen.setTime(0)
  deepStrictEqual(await registry.find(stored.id), touched, 'changing the date given to touch')
  await registry.revoke(stored)
}
