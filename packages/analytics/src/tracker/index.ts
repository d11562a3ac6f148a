export { eventTime, storedId, Tracker, userIdOf } from './tracker.js'
export type {
  AnalyticsStats,
  DropReport,
  IdentityResolver,
  RequestIdentity,
  TrackerDeps,
  TrackOptions,
} from './tracker.js'
