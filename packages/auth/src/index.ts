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
  KyselyThrottleStoreOptions,
  LockoutPolicy,
  LoginAttempt,
  LoginThrottleModuleOptions,
  LoginThrottleOptions,
  RedisThrottleClient,
  RedisThrottleStoreOptions,
  SuspiciousActivity,
  ThrottleLimit,
  ThrottleReservation,
  ThrottleRule,
  ThrottleStore,
} from './throttle/index.js'

// errors of authentication
export {
  InvalidPasswordError,
  InvalidPasswordHashError,
  LoginThrottleConfigError,
  LoginThrottledError,
  LoginThrottleUnavailableError,
  PasswordHasherBusyError,
  PasswordHasherConfigError,
} from './errors.js'

// policies: rules written once, compiled to point checks and to SQL
export {
  ConditionBuilder,
  definePolicy,
  Policy,
  PolicyBuilder,
  RelationBuilder,
  RoleBuilder,
} from './policy/index.js'
export type {
  ColumnOf,
  CompareOperator,
  CompiledRule,
  Condition,
  ConditionNode,
  DefinePolicyOptions,
  Operand,
  OperandNode,
  PolicyDefinition,
  PolicyRule,
  PrincipalRef,
  PrincipalRefs,
  RelatedRows,
  RoleOptions,
  Row,
  RuleBody,
  RuleOptions,
  RuleSet,
  TenantDefinition,
  TenantOptions,
  Truth,
  ValueOf,
} from './policy/index.js'

// access control service
export { AccessControl, accessControlModule, BoundAccessControl } from './access-control/index.js'
export type {
  AccessControlModuleOptions,
  AccessControlDatabaseOptions,
  AccessControlOptions,
  Capability,
  CheckOptions,
  Explanation,
  Filterable,
  RowOf,
  RuleVerdict,
  VerifyAuthorizedSetting,
  WhereOptions,
} from './access-control/index.js'

// decorators and verification that requests authorized what they read
export {
  ACCESS_CONTROL,
  AuthorizationGuardPlugin,
  Authorize,
  isAuthorizationVerified,
  markAuthorized,
  markPublic,
  Public,
  VerifyAuthorized,
  verifyAuthorized,
} from './authorize/index.js'
export type {
  AnyAccessControl,
  AuthorizationGuardOptions,
  AuthorizationRecord,
  AuthorizeOptions,
  VerifyAuthorizedOptions,
} from './authorize/index.js'

// errors of access control
export {
  AccessDeniedError,
  AuthorizationNotVerifiedError,
  HiddenResourceError,
  PolicyDatabaseError,
  PolicyDefinitionError,
  PolicyNeedsDataError,
} from './errors.js'
export type { DenialInfo } from './errors.js'
