import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { type Batch, type DropReason, EventBuffer, resolveBufferOptions } from './event-buffer.js'

type Outcome = 'ok' | 'fail' | 'transient' | 'hang'

class Transient extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A store answering each write as scripted: stored, refused, unreachable, or no answer until
 * released (after close). It stores a batch once, however many of its writes succeed.
 */
class ScriptedStore {
  calls = 0
  readonly stored = new Set<number>()
  readonly answered: { id: number; items: number[]; droppedAs: DropReason | undefined }[] = []
  readonly dropped: { reason: DropReason; items: number[] }[] = []
  readonly released: number[] = []
  readonly unanswered = new Set<Promise<void>>()
  #release!: () => void
  readonly #hung = new Promise<void>((resolve) => {
    this.#release = resolve
  })

  constructor(readonly script: readonly { outcome: Outcome; delayMs: number }[]) {}

  release(): void {
    this.#release()
  }

  buffer(capacity: number, batchSize: number, overflow: 'drop-oldest' | 'drop-newest') {
    return new EventBuffer<number>(
      resolveBufferOptions({
        capacity,
        batchSize,
        overflow,
        maxAgeMs: 2,
        retryBaseMs: 1,
        retryMaxMs: 2,
        writeTimeoutMs: 10,
      }),
      {
        write: (batch: Batch<number>) => {
          const step = this.script[this.calls++ % this.script.length] as {
            outcome: Outcome
            delayMs: number
          }
          const write = (async () => {
            await (step.outcome === 'hang' ? this.#hung : sleep(step.delayMs))
            if (step.outcome === 'fail') throw new Error('refused')
            if (step.outcome === 'transient') throw new Transient('unreachable')
            this.stored.add(batch.id)
          })()
          this.unanswered.add(write)
          const done = () => this.unanswered.delete(write)
          write.then(done, done)
          return write
        },
        size: () => 1,
        isTransient: (error) => error instanceof Transient,
        onDrop: (reason, items) => this.dropped.push({ reason, items: [...items] }),
        onWriteError: () => {},
        onWritten: (batch, _result, droppedAs) =>
          this.answered.push({ id: batch.id, items: [...batch.items], droppedAs }),
        release: (items) => this.released.push(...items),
      },
    )
  }
}

describe('EventBuffer accounting', () => {
  it('accounts for every item once, written or dropped (both only when a write answered late, which names the drop it undoes), whatever the store answers', async () => {
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
            count: fc.integer({ min: 1, max: 6 }),
            pauseMs: fc.integer({ min: 0, max: 4 }),
          }),
          {
            minLength: 1,
            maxLength: 8,
          },
        ),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom('drop-oldest' as const, 'drop-newest' as const),
        async (script, pushes, capacity, batchSize, overflow) => {
          const store = new ScriptedStore(script)
          const buffer = store.buffer(capacity, batchSize, overflow)
          let n = 0
          for (const { count, pauseMs } of pushes) {
            for (let i = 0; i < count; i++) buffer.push(n++)
            expect(buffer.held).toBeLessThanOrEqual(capacity)
            await sleep(pauseMs)
          }
          await buffer.close(60)
          // The writes that never answered answer now: some store their batch late.
          store.release()
          while (store.unanswered.size > 0) await Promise.allSettled([...store.unanswered])
          await sleep(1)

          // onWritten once per batch, and for every batch a write stored.
          const ids = store.answered.map((entry) => entry.id)
          expect(new Set(ids).size).toBe(ids.length)
          expect([...store.stored].sort()).toEqual([...ids].sort())
          for (let item = 0; item < n; item++) {
            const written = store.answered.filter((entry) => entry.items.includes(item))
            const dropped = store.dropped.filter((entry) => entry.items.includes(item))
            expect(written.length + dropped.length, `item ${item}`).toBeGreaterThanOrEqual(1)
            expect(written.length, `item ${item} written`).toBeLessThanOrEqual(1)
            expect(dropped.length, `item ${item} dropped`).toBeLessThanOrEqual(1)
            if (written.length === 1 && dropped.length === 1) {
              // The caller moves it from that drop to the written: one outcome in the end.
              expect(written[0]?.droppedAs, `item ${item} late`).toBe(dropped[0]?.reason)
              expect(['write-failed', 'shutdown']).toContain(dropped[0]?.reason)
            } else {
              expect(written[0]?.droppedAs, `item ${item} not dropped`).toBeUndefined()
            }
            expect(
              store.released.filter((released) => released === item),
              `item ${item} released`,
            ).toHaveLength(1)
          }
        },
      ),
      { numRuns: 60 },
    )
  }, 120_000)
})
