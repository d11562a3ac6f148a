export { RedisSessionRegistry, redisSessionRegistry } from './redis-session-registry.js'
export type {
  RedisLike,
  RedisSessionRegistryModuleOptions,
  RedisSessionRegistryOptions,
} from './redis-session-registry.js'
