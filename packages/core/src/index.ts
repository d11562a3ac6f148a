// The whole public API of @mortar/core. Each section re-exports one concern's face.

// errors
export {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  isMortarError,
  MortarError,
  NotFoundError,
  PayloadTooLargeError,
  PROBLEM_CONTENT_TYPE,
  thrownText,
  TooManyRequestsError,
  toProblem,
  UnauthorizedError,
  UnsupportedMediaTypeError,
  ValidationError,
} from './errors/index.js'
export type {
  FieldIssue,
  MortarErrorOptions,
  ProblemContext,
  ProblemDetails,
  RenderedProblem,
} from './errors/index.js'

// input schemas (zod) that every engine stores as given, and JSON that reads back as given
export {
  describeOption,
  hasLoneSurrogate,
  integerId,
  MAX_SQL_INTEGER,
  safeText,
  stringifyJson,
} from './validation/index.js'
export type {
  IntegerIdOptions,
  JsonChange,
  JsonChangeKind,
  SafeTextOptions,
  StringifiedJson,
  StringifyJsonOptions,
} from './validation/index.js'

// request context
export {
  currentRequestContext,
  NoRequestContextError,
  RequestContext,
  requestContext,
  runInRequestContext,
} from './context/index.js'
export type {
  ContextSlots,
  HttpExchange,
  Principal,
  RequestContextInit,
  RequestScope,
} from './context/index.js'

// request start hooks (modules that act before every handler, such as sessions) and
// before-response hooks (modules that check a handler's result before it is sent)
export {
  claimBeforeResponseHooks,
  hasBeforeResponseHooks,
  onBeforeResponse,
  onRequestStart,
  runBeforeResponseHooks,
  runRequestStartHooks,
} from './context/index.js'
export type { RequestHook } from './context/index.js'

// pages served by packages: a Fetch API handler any adapter mounts under a prefix
export type { FetchHandler } from './http/shared/index.js'

// dependency injection
export { globalToken, inject, injectable, ResolutionError, token } from './di/index.js'
export type {
  Binder,
  ClassProvider,
  Constructor,
  FactoryProvider,
  Key,
  Lifetime,
  Provider,
  Resolved,
  ResolvedKeys,
  SelfBindingOptions,
  Token,
  TokenOptions,
  ValueProvider,
} from './di/index.js'

// app and modules
export {
  APP_CONFIG,
  createApp,
  defineModule,
  ShutdownError,
  StartupError,
  stopOnSignals,
} from './app/index.js'
export type {
  AdapterApp,
  App,
  AppConfig,
  AppState,
  CreateAppOptions,
  Module,
  ModuleDefinition,
  StopOptions,
} from './app/index.js'

// logger
export { createLogger, DEFAULT_REDACT_PATHS, LOGGER } from './logger/index.js'
export type { LogDestination, LogFn, Logger, LoggerOptions, LogLevel } from './logger/index.js'

// config
export {
  ConfigError,
  defineConfig,
  isDevelopment,
  Secret,
  secret,
  secretWeakness,
} from './config/index.js'
export type { ConfigIssue, DefineConfigOptions, Environment, SecretSchema } from './config/index.js'

// clock
export { CLOCK, isTimeZone, SystemClock, wallTime } from './clock/index.js'
export type { Clock, WallTime } from './clock/index.js'

// ids
export { uuidV7, uuidV7Time } from './ids/index.js'

// redis: the app's one Redis setting
export { AppRedis, parseRedisUrl, REDIS, RedisError } from './redis/index.js'
export type { AppRedisOption, ParsedRedisUrl, RedisErrorCode } from './redis/index.js'

// events
export { EVENT_BUS, EventBus, suspiciousActivitySchema } from './events/index.js'
export type { EventHandler, EventMap, SuspiciousActivity } from './events/index.js'

// persistence: engines, migrations, transactions
export {
  ChurnVacuum,
  DATABASE,
  Database,
  DatabaseError,
  DatabaseInputError,
  databaseToken,
  engineOf,
  exactTextType,
  executePrepared,
  isDeadlock,
  parseDatabaseUrl,
  refuseSchemaPlugins,
  resolveDatabase,
} from './persistence/database/index.js'
export type {
  AppDatabaseOption,
  AppHealth,
  ChurnVacuumOptions,
  DatabaseEngine,
  DatabaseErrorCode,
  DatabaseHealth,
  DatabaseInit,
  DatabaseInputReason,
  DatabaseOptions,
  HealthCheck,
  MigrateOptions,
  ParsedDatabaseUrl,
  Resolver,
  TransactionOptions,
  TransactionPropagation,
} from './persistence/database/index.js'
export { ModuleMigrator } from './persistence/migrations/index.js'
export type {
  Migration,
  MigrationContext,
  MigrationDatabase,
  MigrationReport,
  MigrationSource,
  MigrationStatus,
  ModuleMigrations,
  ModuleMigratorOptions,
} from './persistence/migrations/index.js'
export {
  NodeSqliteDatabase,
  NodeSqliteDialect,
  SQLITE_JS_TEXT,
} from './persistence/sqlite/index.js'
export type { NodeSqliteDialectConfig } from './persistence/sqlite/index.js'
export {
  afterCommit,
  beforeCommit,
  publishAfterCommit,
  Transactional,
  transaction,
  useDefaultDatabase,
} from './persistence/transactions/index.js'
export type {
  AfterCommitFailure,
  CommitCallbackOptions,
  TransactionCallOptions,
} from './persistence/transactions/index.js'

// persistence: pagination and vault
export { PAGINATOR, Paginator, paginate } from './persistence/pagination/index.js'
export type {
  NullableColumn,
  Page,
  PageRequest,
  PaginateOptions,
  PaginationKey,
  PaginationKeys,
  PaginatorOptions,
  SortableColumn,
  SortDirection,
  SortKey,
  UniqueKeyOption,
} from './persistence/pagination/index.js'
export { reencryptColumn, VAULT, Vault, VaultError } from './persistence/vault/index.js'
export type {
  ReencryptColumnOptions,
  ReencryptProgress,
  VaultContext,
  VaultErrorCode,
  VaultErrorOptions,
  VaultKeyEntry,
  VaultKeyMaterial,
  VaultKeys,
  VaultOptions,
} from './persistence/vault/index.js'

// background jobs: definitions, the queue, engines
export {
  defineJob,
  enqueue,
  BullmqQueue,
  InlineQueue,
  JOBS,
  JobError,
  MemoryScheduleStore,
  PermanentJobError,
  RetryLaterJobError,
  SqlQueue,
  schedule,
  sqlQueueMigrations,
} from './jobs/index.js'
export type {
  AttemptError,
  BackoffOptions,
  BullmqQueueOptions,
  Carried,
  ClaimedJob,
  ClaimRead,
  ClaimRequest,
  CompanionWrite,
  CompletionWrite,
  DrainOptions,
  EnqueueItem,
  EnqueueManyOptions,
  EnqueueOptions,
  FailOutcome,
  JobContext,
  JobCount,
  JobDeadHandler,
  JobDeath,
  JobDefinition,
  JobDefinitionInit,
  JobErrorCode,
  JobHandler,
  JobInfo,
  JobPayload,
  JobPrepareHandler,
  JobClaimRead,
  JobProgress,
  JobQueue,
  JobState,
  JobsOptions,
  JobsStatus,
  JsonValue,
  ListRequest,
  NewJob,
  QueueAdapter,
  QueueAdapterContext,
  RetryLaterJobErrorOptions,
  ScheduleDefinition,
  ScheduleHandler,
  ScheduleJobOptions,
  ScheduleRow,
  ScheduleStore,
  ScheduleTick,
  ScheduleTiming,
  SqlQueueOptions,
  WorkerSettings,
} from './jobs/index.js'

// the `mortar` bin: commands modules add
export type { CliCommand, CliContext } from './cli/index.js'
