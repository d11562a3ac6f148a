import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
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
import { type Batch, type DropReason, EventBuffer, resolveBufferOptions } from './event-buffer.js'

/** A store that stores a batch once, however many of its writes succeed. */
class ScriptedStore {
  readonly writes: ScriptedWrites
  readonly stored = new Set<number>()
  readonly answered: { id: number; items: number[]; droppedAs: DropReason | undefined }[] = []
  readonly dropped: { reason: DropReason; items: number[] }[] = []
  readonly released: number[] = []

  constructor(script: readonly ScriptStep[]) {
    this.writes = new ScriptedWrites(script)
  }

  buffer(shape: { capacity: number; batchSize: number; overflow: 'drop-oldest' | 'drop-newest' }) {
    return new EventBuffer<number>(resolveBufferOptions({ ...shape, ...FAST_TIMING }), {
      write: (batch: Batch<number>) => this.writes.write(() => void this.stored.add(batch.id)),
      size: () => 1,
      isTransient: (error) => error instanceof Transient,
      onDrop: (reason, items) => this.dropped.push({ reason, items: [...items] }),
      onWriteError: () => {},
      onWritten: (batch, _result, droppedAs) =>
        this.answered.push({ id: batch.id, items: [...batch.items], droppedAs }),
      release: (items) => this.released.push(...items),
    })
  }
}

describe('EventBuffer accounting', () => {
  it('accounts for every item once, written or dropped (both only when a write answered late, which names the drop it undoes), whatever the store answers', async () => {
    await fc.assert(
      fc.asyncProperty(
        writeScript,
        pushes(fc.constant(1)),
        bufferShape,
        async (script, pushed, shape) => {
          const store = new ScriptedStore(script)
          const buffer = store.buffer(shape)
          let n = 0
          for (const { items, pauseMs } of pushed) {
            for (const _ of items) buffer.push(n++)
            expect(buffer.held).toBeLessThanOrEqual(shape.capacity)
            await sleep(pauseMs)
          }
          await buffer.close(60)
          // The writes that never answered answer now: some store their batch late.
          await store.writes.release()
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
