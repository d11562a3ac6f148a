export { ANALYTICS, Analytics } from './analytics.js'
export type { AnalyticsParts, PageView } from './analytics.js'
export { analyticsModule, principalIdentity } from './analytics-module.js'
export type { AnalyticsModuleOptions } from './analytics-module.js'
