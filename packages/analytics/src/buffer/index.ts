export { EventBuffer, newBatchId, resolveBufferOptions } from './event-buffer.js'
export type {
  Batch,
  BufferHooks,
  BufferItem,
  BufferOptions,
  DropReason,
  OverflowPolicy,
} from './event-buffer.js'
