export { AnalyticsQueries } from './analytics-queries.js'
export type {
  FunnelStepResult,
  PageDwell,
  RetentionCohort,
  SeriesPoint,
  StepSpec,
  TopValue,
} from './analytics-queries.js'
export type { TimeRange } from './query-scope.js'
