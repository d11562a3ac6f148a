import { createLogger } from '@mortar/core'
import { FakeClock } from '@mortar/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import {
  bufferShape,
  FAST_TIMING,
  pushes,
  ScriptedWrites,
  type ScriptStep,
  sleep,
  Transient,
  writeScript,
} from '../test-support/scripted-writes.js'
import type { Suppressions } from '../privacy/suppressions.js'
import type { EventBatch } from '../sinks/event-sink.js'
import { MemoryEventSink } from '../sinks/memory/memory-event-sink.js'
import { type DropReport, Tracker } from './tracker.js'

const events = defineEvents({ viewed: z.object({ n: z.int().nonnegative() }) })

/** A memory sink answering each write as scripted; it stores a batch once, however often written. */
class ScriptedSink extends MemoryEventSink {
  readonly writes: ScriptedWrites

  constructor(script: readonly ScriptStep[]) {
    super()
    this.writes = new ScriptedWrites(script)
  }

  isTransient(error: unknown): boolean {
    return error instanceof Transient
  }

  override write(batch: EventBatch): Promise<void> {
    return this.writes.write(() => super.write(batch))
  }
}

/** Users forgotten before the run: the tracker leaves their events out when it prepares a batch. */
const forgotten: Suppressions = {
  among: async (userIds: readonly (string | undefined)[]) => ({
    users: new Set(userIds.filter((id): id is string => id?.startsWith('gone') === true)),
    anonymous: new Set<string>(),
  }),
} as unknown as Suppressions

describe('Tracker accounting', () => {
  it('puts every tracked event in exactly one outcome (stored, failed, skipped or dropped) once every write answered, whatever the store answers and however late', async () => {
    await fc.assert(
      fc.asyncProperty(
        writeScript,
        pushes(fc.constantFrom('good', 'bad', 'gone')),
        bufferShape,
        async (script, pushed, shape) => {
          const sink = new ScriptedSink(script)
          const reports: DropReport[] = []
          const tracker = new Tracker({
            events,
            sink,
            clock: new FakeClock(),
            logger: createLogger({ level: 'silent' }),
            bus: undefined,
            database: undefined,
            visitorIds: undefined,
            suppressions: forgotten,
            buffer: { ...shape, ...FAST_TIMING },
            identity: () => undefined,
            consent: undefined,
            country: undefined,
            onDrop: (report) => reports.push(report),
          })
          let n = 0
          for (const push of pushed) {
            for (const kind of push.items) {
              const properties = { n: kind === 'bad' ? -1 : n }
              const options = { userId: kind === 'gone' ? `gone-${n}` : `u-${n}` }
              n++
              tracker.track('viewed', properties, options)
            }
            await sleep(push.pauseMs)
          }
          await tracker.close(60)
          // The writes that never answered answer now: some store their batch late.
          await sink.writes.release()
          await sleep(5)

          const stats = tracker.stats()
          const dropped = Object.values(stats.dropped).reduce((sum, count) => sum + count, 0)
          expect(stats.buffered).toBe(0)
          expect(stats.stored, 'stored').toBe(sink.events.length)
          expect(stats.failed, 'failed').toBe(sink.failed.length)
          for (const count of Object.values(stats.dropped)) expect(count).toBeGreaterThanOrEqual(0)
          // Each event in exactly one outcome: none both dropped and stored, none in neither.
          expect(stats.stored + stats.failed + stats.skipped.suppressed + dropped).toBe(n)
          // The reports add up to the counts, recoveries included.
          for (const [reason, count] of Object.entries(stats.dropped)) {
            const mine = reports.filter((report) => report.reason === reason)
            const sum = mine.reduce((total, r) => total + r.count - (r.recovered ?? 0), 0)
            expect(sum, reason).toBe(count)
            expect(mine.at(-1)?.total ?? 0, reason).toBe(count)
          }
        },
      ),
      { numRuns: 60 },
    )
  }, 120_000)
})
