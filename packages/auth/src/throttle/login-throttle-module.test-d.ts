import type { Redis } from 'ioredis'
import { loginThrottleModule } from './login-throttle-module.js'
import { MemoryThrottleStore } from './memory/index.js'
import { RedisThrottleStore } from './redis/index.js'

declare const redis: Redis

// What must compile.
loginThrottleModule({ store: 'memory' })
loginThrottleModule({ store: 'database', account: { maxFailures: 3 }, ip: false })
loginThrottleModule({ store: 'redis' })
loginThrottleModule({ store: new RedisThrottleStore({ client: redis, prefix: 'app:' }) })
loginThrottleModule({ store: new MemoryThrottleStore() })
new RedisThrottleStore({ client: redis })

// What must not.
// @ts-expect-error the connection is the app's (createApp({ redis })), not the module's
loginThrottleModule({ store: { redis: { url: 'redis://127.0.0.1:6379' } } })
// @ts-expect-error an unknown store name
loginThrottleModule({ store: 'postgres' })
// @ts-expect-error the store is required
loginThrottleModule({ account: { maxFailures: 3 } })
// @ts-expect-error the clock and the bus come from the app
loginThrottleModule({ store: 'memory', clock: { now: () => new Date(), nowMs: () => 0 } })
