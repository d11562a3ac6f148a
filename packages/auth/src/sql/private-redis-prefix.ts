// Test support, not part of the public API: a private Redis key prefix per test run.
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

type ScanningRedis = Pick<Redis, 'scan' | 'del'>

/** A fresh prefix, so concurrent runs and other suites never see each other's keys. */
export function privateRedisPrefix(): string {
  return `mortar-auth-test-${randomBytes(6).toString('hex')}:`
}

/** Deletes every key under `prefix` (SCAN + DEL) and returns how many were deleted. */
export async function deleteRedisPrefix(client: ScanningRedis, prefix: string): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    cursor = next
    if (keys.length > 0) deleted += await client.del(...keys)
  } while (cursor !== '0')
  return deleted
}
