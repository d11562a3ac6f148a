// Type tests: checked by `tsc -p tsconfig.json`, never run. Each @ts-expect-error must fail to compile.
import { Redis } from 'ioredis'
import { RedisSessionRegistry, redisSessionRegistry } from './redis-session-registry.js'

declare const client: Redis

export function accepted(): void {
  // An ioredis client fits RedisLike as it is.
  new RedisSessionRegistry({ client, prefix: 'shop:' })
  redisSessionRegistry({ url: 'redis://127.0.0.1:6379' })
  redisSessionRegistry({ client, prefix: 'shop:', ttlSeconds: 3600 })
}

export function rejected(): void {
  // @ts-expect-error a URL or a client, not both
  redisSessionRegistry({ url: 'redis://127.0.0.1:6379', client })
  // @ts-expect-error neither a URL nor a client
  redisSessionRegistry({ prefix: 'shop:' })
  // @ts-expect-error a client must have the commands the registry calls
  new RedisSessionRegistry({ client: { hgetall: async () => ({}) } })
}
