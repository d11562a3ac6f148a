import * as vitest from 'vitest'
import type { EventSink } from '../event-sink.js'
import { eventSinkConformance, makeBatchId } from '../../testing/index.js'
import { MemoryEventSink } from './memory-event-sink.js'

eventSinkConformance(vitest, 'MemoryEventSink', () => {
  const sink = new MemoryEventSink()
  return {
    sink,
    read: async () => ({ events: sink.events, failed: sink.failed, links: sink.links }),
  }
})

// The kit must fail a sink whose forget deletes failed events by user id alone: its one case on
// that runs as a test that passes only when the case fails.
const FAILED_EVENTS_CASE =
  'forgets failed events as events: under the user id, and anonymous ones under an id linked to them'
eventSinkConformance(
  {
    ...vitest,
    it: ((title: string, body: () => Promise<void>) => {
      if (title === FAILED_EVENTS_CASE) vitest.it.fails(title, body)
    }) as typeof vitest.it,
  },
  'a sink forgetting failed events by user id alone',
  () => {
    const inner = new MemoryEventSink()
    const sink: EventSink = {
      write: (batch) => inner.write(batch),
      async forget(userId) {
        const anonymous = inner.failed.filter((event) => event.userId === null)
        const report = await inner.forget(userId)
        const back = anonymous.filter((event) => !inner.failed.some((f) => f.id === event.id))
        await inner.write({ id: makeBatchId(), events: [], failed: back, links: [] })
        return { ...report, failedEvents: report.failedEvents - back.length }
      },
    }
    return {
      sink,
      read: async () => ({ events: inner.events, failed: inner.failed, links: inner.links }),
    }
  },
)
