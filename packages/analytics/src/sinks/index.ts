export type {
  EventBatch,
  EventSink,
  FailedEvent,
  IdentityLink,
  SinkForgetReport,
  StoredEvent,
  WriteOutcome,
} from './event-sink.js'
export { MemoryEventSink } from './memory/memory-event-sink.js'
export { SqlEventSink } from './sql/sql-event-sink.js'
export type { SqlEventSinkOptions } from './sql/sql-event-sink.js'
export { isTransientDatabaseError } from './sql/transient-error.js'
