import { createLogger } from '@mortar/core'
import { FakeClock } from '@mortar/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import type { Suppressions } from '../privacy/suppressions.js'
import type { EventBatch } from '../sinks/event-sink.js'
import { MemoryEventSink } from '../sinks/memory/memory-event-sink.js'
import { type DropReport, Tracker } from './tracker.js'

const events = defineEvents({ viewed: z.object({ n: z.int().nonnegative() }) })

/** How the store answers one write: stored, refused, unreachable, or no answer until released. */
type Outcome = 'ok' | 'fail' | 'transient' | 'hang'

class Transient extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A memory sink answering each write as scripted; it stores a batch once, however often written. */
class ScriptedSink extends MemoryEventSink {
  calls = 0
  readonly unanswered = new Set<Promise<void>>()
  #release!: () => void
  readonly #hung = new Promise<void>((resolve) => {
    this.#release = resolve
  })

  constructor(readonly script: readonly { outcome: Outcome; delayMs: number }[]) {
    super()
  }

  release(): void {
    this.#release()
  }

  isTransient(error: unknown): boolean {
    return error instanceof Transient
  }

  override write(batch: EventBatch): Promise<void> {
    const step = this.script[this.calls++ % this.script.length] as {
      outcome: Outcome
      delayMs: number
    }
    const write = (async () => {
      await (step.outcome === 'hang' ? this.#hung : sleep(step.delayMs))
      if (step.outcome === 'fail') throw new Error('refused')
      if (step.outcome === 'transient') throw new Transient('unreachable')
      await super.write(batch)
    })()
    this.unanswered.add(write)
    const done = () => this.unanswered.delete(write)
    write.then(done, done)
    return write
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
        fc.array(
          fc.record({
            outcome: fc.constantFrom<Outcome>('ok', 'ok', 'fail', 'transient', 'hang'),
            delayMs: fc.integer({ min: 0, max: 12 }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.array(
          fc.record({
            events: fc.array(fc.constantFrom('good', 'bad', 'gone'), {
              minLength: 1,
              maxLength: 6,
            }),
            pauseMs: fc.integer({ min: 0, max: 4 }),
          }),
          { minLength: 1, maxLength: 8 },
        ),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom('drop-oldest' as const, 'drop-newest' as const),
        async (script, pushes, capacity, batchSize, overflow) => {
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
            buffer: {
              capacity,
              batchSize,
              overflow,
              maxAgeMs: 2,
              retryBaseMs: 1,
              retryMaxMs: 2,
              writeTimeoutMs: 10,
            },
            identity: () => undefined,
            consent: undefined,
            country: undefined,
            onDrop: (report) => reports.push(report),
          })
          let n = 0
          for (const push of pushes) {
            for (const kind of push.events) {
              const properties = { n: kind === 'bad' ? -1 : n }
              const options = { userId: kind === 'gone' ? `gone-${n}` : `u-${n}` }
              n++
              tracker.track('viewed', properties, options)
            }
            await sleep(push.pauseMs)
          }
          await tracker.close(60)
          // The writes that never answered answer now: some store their batch late.
          sink.release()
          while (sink.unanswered.size > 0) await Promise.allSettled([...sink.unanswered])
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
