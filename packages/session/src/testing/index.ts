// registry
export {
  makeSessionRecord,
  randomSessionId,
  sessionRegistryConformance,
} from './session-registry-conformance.js'
export type {
  SessionRegistryConformanceOptions,
  SessionRegistrySubject,
} from './session-registry-conformance.js'
export { RecordingSessionRegistry, unavailableSessionRegistry } from './session-registry-fakes.js'
export type { SessionRegistryCall } from './session-registry-fakes.js'

// state
export { stateStoreConformance } from './state-store-conformance.js'
export type {
  StateStoreConformanceOptions,
  StateStoreSubject,
} from './state-store-conformance.js'

// CSRF
export type {
  ForgeableRoute,
  ForgedAnswer,
  ForgeUnsafeRequestsOptions,
} from './forge-unsafe-requests.js'
export { FORGED_CONTENT_TYPES, forgeUnsafeRequests } from './forge-unsafe-requests.js'
