export {
  databaseSessionRegistry,
  KyselySessionRegistry,
  sessionRegistryMigrations,
} from './kysely/index.js'
export type {
  DatabaseSessionRegistryOptions,
  KyselySessionRegistryOptions,
} from './kysely/index.js'
export { MemorySessionRegistry, memorySessionRegistry } from './memory/index.js'
export type { MemorySessionRegistryOptions } from './memory/index.js'
export { RedisSessionRegistry, redisSessionRegistry } from './redis/index.js'
export type {
  RedisLike,
  RedisSessionRegistryModuleOptions,
  RedisSessionRegistryOptions,
} from './redis/index.js'
export { SESSION_REGISTRY } from './session-registry.js'
export type { SessionOwner, SessionRecord, SessionRegistry } from './session-registry.js'
