export { ANALYTICS, Analytics } from './analytics.js'
export type {
  AnalyticsParts,
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
} from './analytics.js'
export { analyticsModule, principalIdentity } from './analytics-module.js'
export type { AnalyticsModuleOptions } from './analytics-module.js'
