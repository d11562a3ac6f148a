// The whole public API of @mortar/session. Each section re-exports one concern's face.

// sealed cookie sessions
export type {
  AppSessionData,
  InvalidSessionEvent,
  SessionCookieOptions,
  SessionIdentity,
  SessionModule,
  SessionModuleOptions,
  SessionPassword,
  SessionSecret,
  SessionTypes,
} from './cookie/index.js'
export { Session, SessionManager, SESSIONS, session, sessionModule } from './cookie/index.js'

// CSRF guard
export type { CsrfOptions } from './csrf/index.js'
export { csrfToken, verifyCsrfForm } from './csrf/index.js'

// errors of sessions and CSRF
export {
  CsrfError,
  SessionConfigError,
  SessionCookieConflictError,
  SessionDataError,
  SessionTooLargeError,
  SessionUnavailableError,
} from './errors.js'
export type { CsrfRejection } from './errors.js'

// registry
export {
  databaseSessionRegistry,
  KyselySessionRegistry,
  MemorySessionRegistry,
  memorySessionRegistry,
  RedisSessionRegistry,
  redisSessionRegistry,
  SESSION_REGISTRY,
  sessionRegistryMigrations,
} from './registry/index.js'
export type {
  DatabaseSessionRegistryOptions,
  KyselySessionRegistryOptions,
  MemorySessionRegistryOptions,
  RedisLike,
  RedisSessionRegistryModuleOptions,
  RedisSessionRegistryOptions,
  SessionOwner,
  SessionRecord,
  SessionRegistry,
} from './registry/index.js'
export { SessionExistsError, SessionRegistryUnavailableError } from './errors.js'

// state
export {
  KyselyStateStore,
  MemoryStateStore,
  STATE_STORE,
  stateMigrations,
  stateModule,
} from './state/index.js'
export type {
  KyselyStateStoreOptions,
  MemoryStateStoreOptions,
  StateDeleteOptions,
  StateEntry,
  StateModuleOptions,
  StateNamespace,
  StateNamespaceOptions,
  StatePutOptions,
  StateStore,
} from './state/index.js'
export { StateConflictError, StateCorruptedError, StateTooLargeError } from './errors.js'
