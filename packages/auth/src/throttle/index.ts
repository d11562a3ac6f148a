export { KyselyThrottleStore, loginThrottleMigrations } from './kysely/index.js'
export type { KyselyThrottleStoreOptions } from './kysely/index.js'
export { LOGIN_THROTTLE, LoginThrottle } from './login-throttle.js'
export type {
  LockoutPolicy,
  LoginAttempt,
  LoginThrottleOptions,
  ThrottleLimit,
} from './login-throttle.js'
export { loginThrottleModule } from './login-throttle-module.js'
export type { LoginThrottleModuleOptions } from './login-throttle-module.js'
export { MemoryThrottleStore } from './memory/index.js'
export { RedisThrottleStore } from './redis/index.js'
export type { RedisThrottleClient, RedisThrottleStoreOptions } from './redis/index.js'
export { suspiciousActivitySchema } from './suspicious-activity.js'
export type { SuspiciousActivity } from './suspicious-activity.js'
export type { ThrottleReservation, ThrottleRule, ThrottleStore } from './throttle-store.js'
