export { eventTime, storedId, Tracker, userIdOf, writableUserId } from './tracker.js'
export type {
  AnalyticsStats,
  DropReport,
  IdentityResolver,
  RequestIdentity,
  TrackerDeps,
  TrackOptions,
} from './tracker.js'
export { uuidV7, uuidV7Time } from './uuid-v7.js'
