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

// A write may resolve to a WriteOutcome (what it left out), here always one of nothing: a sink
// that answers so conforms.
eventSinkConformance(vitest, 'a sink answering every write with an outcome', () => {
  const sink = new MemoryEventSink()
  return {
    sink: {
      write: async (batch) => {
        await sink.write(batch)
        return { suppressed: { events: 0, failed: 0 } }
      },
    },
    read: async () => ({ events: sink.events, failed: sink.failed, links: sink.links }),
  }
})

/**
 * Runs the kit's one case titled `title` on a broken sink (`broken` wraps a memory sink), as a
 * test that passes only when the case fails.
 */
function kitFails(title: string, name: string, broken: (inner: MemoryEventSink) => EventSink) {
  eventSinkConformance(
    {
      ...vitest,
      it: ((caseTitle: string, body: () => Promise<void>) => {
        if (caseTitle === title) vitest.it.fails(caseTitle, body)
      }) as typeof vitest.it,
    },
    name,
    () => {
      const inner = new MemoryEventSink()
      return {
        sink: broken(inner),
        read: async () => ({ events: inner.events, failed: inner.failed, links: inner.links }),
      }
    },
  )
}

kitFails(
  'forgets failed events as events: under the user id, and anonymous ones under an id linked to them',
  'a sink forgetting failed events by user id alone',
  (inner) => ({
    write: (batch) => inner.write(batch),
    async forget(userId) {
      const anonymous = inner.failed.filter((event) => event.userId === null)
      const report = await inner.forget(userId)
      const back = anonymous.filter((event) => !inner.failed.some((f) => f.id === event.id))
      await inner.write({ id: makeBatchId(), events: [], failed: back, links: [] })
      return { ...report, failedEvents: report.failedEvents - back.length }
    },
  }),
)

// It keeps what a write stored after the first forget (a batch checked before it).
kitFails(
  'forgets again what was written after a first forget: a batch checked before it, written late',
  'a sink skipping users it forgot before',
  (inner) => {
    const forgotten = new Set<string>()
    return {
      write: (batch) => inner.write(batch),
      linkedAnonymousIds: (userId) => inner.linkedAnonymousIds(userId),
      forgetAnonymous: (anonymousIds) => inner.forgetAnonymous(anonymousIds),
      async forget(userId) {
        if (forgotten.has(userId)) {
          return { events: 0, failedEvents: 0, identityLinks: 0, anonymousIds: [] }
        }
        forgotten.add(userId)
        return inner.forget(userId)
      },
    }
  },
)
