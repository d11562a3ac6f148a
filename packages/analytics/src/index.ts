// The whole public API of @mortar/analytics. Each section re-exports one concern's face.

// the module and the analytics facade
export { ANALYTICS, Analytics, analyticsModule, principalIdentity } from './analytics/index.js'
export type {
  AnalyticsModuleOptions,
  DashboardOptions,
  DashboardTop,
  DwellOptions,
  EventStep,
  FunnelOptions,
  PageView,
  QueryableEvents,
  RetentionOptions,
  SeriesOptions,
  TopOptions,
} from './analytics/index.js'

// answers
export type {
  FunnelStepResult,
  PageDwell,
  RetentionCohort,
  SeriesPoint,
  TimeRange,
  TopValue,
} from './queries/index.js'
export type { Recommendation, RecommendOptions } from './recommendations/index.js'
export type {
  ArrayKey,
  CountsConfig,
  ItemSource,
  RecommendationsConfig,
  RollupReport,
} from './rollups/index.js'

// the event catalogue
export { BUILT_IN_EVENTS, defineEvents } from './catalog/index.js'
export type {
  AnalyticsTypes,
  AppEvents,
  BuiltInEventName,
  EventInput,
  EventName,
  EventProperties,
  EventSchema,
  EventSchemas,
  PropertyFilter,
  ScalarKey,
  ScalarValue,
} from './catalog/index.js'

// tracking and the buffer
export type { BufferOptions, DropReason, OverflowPolicy } from './buffer/index.js'
export type {
  AnalyticsStats,
  DropReport,
  IdentityResolver,
  RequestIdentity,
  TrackOptions,
} from './tracker/index.js'

// sinks
export { isTransientDatabaseError, MemoryEventSink, SqlEventSink } from './sinks/index.js'
export type {
  EventBatch,
  EventSink,
  FailedEvent,
  IdentityLink,
  SqlEventSinkOptions,
  SinkForgetReport,
  StoredEvent,
  WriteOutcome,
} from './sinks/index.js'

// storage
export { analyticsMigrations } from './storage/index.js'
export type { RefusedEntry } from './storage/index.js'

// privacy
export type {
  ConsentOptions,
  CountryLookup,
  ForgetCounts,
  ForgetReport,
} from './privacy/index.js'

// errors
export {
  AnalyticsBatchError,
  AnalyticsClosedError,
  AnalyticsForgetError,
  AnalyticsIdentityError,
  AnalyticsConfigError,
  AnalyticsQueryError,
  FlushTimeoutError,
  ForgetTimeoutError,
  WriteTimeoutError,
} from './errors.js'
