import type { Redis } from 'ioredis'
import { loginThrottleModule } from './login-throttle-module.js'
import { MemoryThrottleStore } from './memory/index.js'
import { RedisThrottleStore } from './redis/index.js'

declare const redis: Redis

// What must compile.
loginThrottleModule({ store: 'memory' })
loginThrottleModule({ store: 'database', account: { maxFailures: 3 }, ip: false })
loginThrottleModule({ store: { redis: { url: 'redis://127.0.0.1:6379', prefix: 'app:' } } })
loginThrottleModule({ store: { redis: { client: redis } } })
loginThrottleModule({ store: new MemoryThrottleStore() })
new RedisThrottleStore({ client: redis })

// What must not.
// @ts-expect-error a URL or a client, not both
loginThrottleModule({ store: { redis: { url: 'redis://127.0.0.1:6379', client: redis } } })
// @ts-expect-error an unknown store name
loginThrottleModule({ store: 'postgres' })
// @ts-expect-error the store is required
loginThrottleModule({ account: { maxFailures: 3 } })
// @ts-expect-error the clock and the bus come from the app
loginThrottleModule({ store: 'memory', clock: { now: () => new Date(), nowMs: () => 0 } })
