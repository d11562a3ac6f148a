export {
  eventSinkConformance,
  makeBatchId,
  makeStoredEvent,
} from './event-sink-conformance.js'
export type {
  EventSinkConformanceOptions,
  EventSinkContents,
  EventSinkSubject,
} from './event-sink-conformance.js'
