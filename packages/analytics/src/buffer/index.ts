export { withDeadline } from './deadline.js'
export { EventBuffer, newBatchId, resolveBufferOptions } from './event-buffer.js'
export type {
  Batch,
  BufferHooks,
  BufferOptions,
  DropReason,
  OverflowPolicy,
} from './event-buffer.js'
