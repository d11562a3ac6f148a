import * as vitest from 'vitest'
import { eventSinkConformance } from '../../testing/index.js'
import { MemoryEventSink } from './memory-event-sink.js'

eventSinkConformance(vitest, 'MemoryEventSink', () => {
  const sink = new MemoryEventSink()
  return {
    sink,
    read: async () => ({ events: sink.events, failed: sink.failed, links: sink.links }),
  }
})
