import { startEngineApp } from '../testing/engine-app.js'
import { testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineEvents } from '../catalog/define-events.js'
import { ForgetTimeoutError } from '../errors.js'
import type { DropReport } from '../tracker/index.js'
import type { EventBatch } from './event-sink.js'
import { MemoryEventSink } from './memory/memory-event-sink.js'

const events = defineEvents({ viewed: z.object({ n: z.int() }) })

/** A sink whose writes hang while it is held: a store that never answers, until released. */
class HangingSink extends MemoryEventSink {
  calls = 0
  #held: Promise<void> | undefined
  #release = () => {}

  hold(): void {
    this.#held = new Promise((resolve) => {
      this.#release = resolve
    })
  }

  release(): void {
    this.#held = undefined
    this.#release()
  }

  override async write(batch: EventBatch): Promise<void> {
    this.calls++
    await this.#held
    await super.write(batch)
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (the notice names it); .ci/run sets all three.
  describe.skipIf(engine.skip !== undefined)(`A sink that hangs, on ${engine.title}`, () => {
    it('costs its batch, dropped and reported after five writes past their deadline, then stored and counted as stored only when they answer; forgetUser fails within its bound until the writes answer', async () => {
      const sink = new HangingSink()
      const reports: DropReport[] = []
      const subject = await startEngineApp(engine, {
        events,
        sink,
        buffer: { writeTimeoutMs: 20, retryBaseMs: 1, retryMaxMs: 2 },
        onDrop: (report) => reports.push(report),
      })
      try {
        const { analytics } = subject
        sink.hold()
        analytics.track('viewed', { n: 1 }, { userId: 'u-gone' })
        analytics.track('viewed', { n: 2 }, { userId: 'u-kept' })
        // Before, flush() waited for ever, and so did every event behind the batch.
        await analytics.flush()
        expect(analytics.stats().dropped['write-failed']).toBe(2)
        await expect
          .poll(() => reports)
          .toContainEqual({ reason: 'write-failed', count: 2, total: 2 })
        expect(sink.calls).toBe(5)
        // Its writes may still store the user's events: no erasure is reported done meanwhile.
        await expect(analytics.forgetUser('u-gone', { timeoutMs: 50 })).rejects.toBeInstanceOf(
          ForgetTimeoutError,
        )
        // They answer: stored late, once, and counted; then the erasure finishes.
        sink.release()
        await expect.poll(() => analytics.stats().stored).toBe(2)
        // Stored, so no longer dropped: each event counts in one outcome, and a report says so.
        expect(analytics.stats().dropped['write-failed']).toBe(0)
        await expect
          .poll(() => reports)
          .toContainEqual({ reason: 'write-failed', count: 0, recovered: 2, total: 0 })
        expect(sink.events.map((event) => event.userId).sort()).toEqual(['u-gone', 'u-kept'])
        await expect(analytics.forgetUser('u-gone')).resolves.toMatchObject({ events: 1 })
        expect(sink.events.map((event) => event.userId)).toEqual(['u-kept'])
      } finally {
        sink.release()
        await subject.close()
      }
    })
  })
}
