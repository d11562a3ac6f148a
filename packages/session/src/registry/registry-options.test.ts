import { describe, expect, it } from 'vitest'
import { SessionConfigError } from '../errors.js'
import { databaseSessionRegistry } from './kysely/kysely-session-registry.js'
import { MemorySessionRegistry, memorySessionRegistry } from './memory/memory-session-registry.js'
import { RedisSessionRegistry } from './redis/redis-session-registry.js'

const client = { eval: async () => 0, hgetall: async () => ({}) }
const BAD = [0, -1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '60' as never]

describe('session registry options', () => {
  it.each(BAD)('refuses a ttl or idle window of %s as E_SESSION_CONFIG', (seconds) => {
    for (const make of [
      () => new RedisSessionRegistry({ client, ttlSeconds: seconds }),
      () => new MemorySessionRegistry({ pruneIdleAfter: seconds }),
      () => memorySessionRegistry({ pruneIdleAfter: seconds }),
      () => databaseSessionRegistry({ pruneIdleAfter: seconds }),
    ]) {
      expect(make).toThrow(SessionConfigError)
      expect(make).toThrow(/positive number of seconds/)
    }
  })
})
