// The whole public API of @mortar/auth. Each section re-exports one concern's face.
export {}

// passwords
export { OWASP_SCRYPT_COST, PASSWORD_HASHER, PasswordHasher } from './password/index.js'
export type { PasswordHasherOptions, ScryptCost } from './password/index.js'

// login throttling
export {
  KyselyThrottleStore,
  LOGIN_THROTTLE,
  LoginThrottle,
  loginThrottleMigrations,
  loginThrottleModule,
  MemoryThrottleStore,
  RedisThrottleStore,
  suspiciousActivitySchema,
} from './throttle/index.js'
export type {
  FailureOutcome,
  KyselyThrottleStoreOptions,
  LockoutPolicy,
  LoginAttempt,
  LoginThrottleModuleOptions,
  LoginThrottleOptions,
  RedisThrottleClient,
  RedisThrottleStoreChoice,
  RedisThrottleStoreOptions,
  SuspiciousActivity,
  ThrottleExpiry,
  ThrottleLimit,
  ThrottleLock,
  ThrottleStore,
} from './throttle/index.js'

// errors of authentication
export {
  InvalidPasswordHashError,
  LoginThrottleConfigError,
  LoginThrottledError,
  LoginThrottleUnavailableError,
  PasswordHasherConfigError,
} from './errors.js'
