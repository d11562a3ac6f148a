export { RedisThrottleStore } from './redis-throttle-store.js'
export type { RedisThrottleClient, RedisThrottleStoreOptions } from './redis-throttle-store.js'
