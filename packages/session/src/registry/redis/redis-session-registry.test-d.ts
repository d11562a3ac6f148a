// Type tests: checked by `tsc -p tsconfig.json`, never run. Each @ts-expect-error must fail to compile.
import { Redis } from 'ioredis'
import { RedisSessionRegistry, redisSessionRegistry } from './redis-session-registry.js'

declare const client: Redis

export function accepted(): void {
  // An ioredis client fits RedisLike as it is.
  new RedisSessionRegistry({ client, prefix: 'shop:' })
  redisSessionRegistry()
  redisSessionRegistry({ ttlSeconds: 3600 })
}

export function rejected(): void {
  // @ts-expect-error the connection is the app's (createApp({ redis })), not the module's
  redisSessionRegistry({ url: 'redis://127.0.0.1:6379' })
  // @ts-expect-error the prefix is the app's
  redisSessionRegistry({ prefix: 'shop:' })
  // @ts-expect-error a client must have the commands the registry calls
  new RedisSessionRegistry({ client: { hgetall: async () => ({}) } })
}
