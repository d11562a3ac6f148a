export { collectorHandler, heartbeatTag, problem } from './collector.js'
export { dashboardHandler } from './dashboard.js'
export type { DashboardSource, DashboardSpec } from './dashboard.js'
