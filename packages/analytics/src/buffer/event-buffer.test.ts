import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { FlushTimeoutError, WriteTimeoutError } from '../errors.js'
import {
  type Batch,
  type BufferOptions,
  type DropReason,
  EventBuffer,
  resolveBufferOptions,
} from './event-buffer.js'

interface Item {
  readonly n: number
  readonly bytes: number
}

class Store {
  readonly written: number[] = []
  readonly batches: number[][] = []
  readonly dropped: Record<DropReason, number[]> = {
    overflow: [],
    'write-failed': [],
    shutdown: [],
    closed: [],
  }
  failing: Error | undefined
  transient = true
  gate: Promise<void> | undefined
  writes = 0
  /** Batches whose write succeeded, as the buffer took them: late when it had dropped them. */
  readonly answered: { items: number[]; late: boolean }[] = []
  readonly released: number[] = []
  readonly writeErrors: unknown[] = []
  /** Items whose size was asked. */
  readonly sized = new Set<number>()
  /** Batches prepared, and the items of the write in progress at the time. */
  readonly prepared: { items: number[]; whileWriting: number[] | undefined }[] = []
  #writing: number[] | undefined

  buffer(options: BufferOptions): EventBuffer<Item> {
    return new EventBuffer<Item>(
      resolveBufferOptions({ retryBaseMs: 1, retryMaxMs: 4, ...options }),
      {
        write: async (batch: Batch<Item>) => {
          this.writes++
          this.#writing = batch.items.map((i) => i.n)
          try {
            await this.gate
            if (this.failing) throw this.failing
            this.batches.push(batch.items.map((i) => i.n))
            this.written.push(...batch.items.map((i) => i.n))
          } finally {
            this.#writing = undefined
          }
        },
        prepare: (batch) =>
          this.prepared.push({ items: batch.items.map((i) => i.n), whileWriting: this.#writing }),
        size: (item) => {
          this.sized.add(item.n)
          return item.bytes
        },
        isTransient: () => this.transient,
        onDrop: (reason, items) => this.dropped[reason].push(...items.map((i) => i.n)),
        onWriteError: (error) => this.writeErrors.push(error),
        onWritten: (batch, _result, droppedAs) =>
          this.answered.push({ items: batch.items.map((i) => i.n), late: droppedAs !== undefined }),
        release: (items) => this.released.push(...items.map((i) => i.n)),
      },
    )
  }
}

const item = (n: number, bytes = 10): Item => ({ n, bytes })

describe('EventBuffer', () => {
  it('forms and prepares the next batch, once, while the one before it is written', async () => {
    const store = new Store()
    let open!: () => void
    store.gate = new Promise((resolve) => {
      open = resolve
    })
    const buffer = store.buffer({ batchSize: 300, maxAgeMs: 60_000 })
    const range = (from: number, to: number) =>
      Array.from({ length: to - from + 1 }, (_, i) => from + i)
    for (let n = 1; n <= 1_000; n++) buffer.push(item(n))
    while (store.prepared.length === 0) await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setTimeout(resolve, 20))
    // The first batch (1-300) is being written: the next one is prepared, no more.
    expect(store.prepared).toEqual([{ items: range(301, 600), whileWriting: range(1, 300) }])
    // The rest waits unsized (the tracker serialises an event to size it: sizing a whole burst
    // kept every event's JSON alive until its batch was written).
    expect(Math.max(...store.sized)).toBe(600)
    expect(buffer.held).toBe(1_000)
    store.gate = undefined
    open()
    await buffer.flush()
    // A store this quick writes the rest before their preparation's turn comes: they are
    // prepared by their write, never twice.
    const firsts = store.prepared.map((p) => p.items[0])
    expect(new Set(firsts).size).toBe(firsts.length)
    expect(store.batches).toEqual([
      range(1, 300),
      range(301, 600),
      range(601, 900),
      range(901, 1_000),
    ])
  })

  it('drops what a store that hangs has not answered for by the close deadline as shutdown, the batch being written included', async () => {
    const store = new Store()
    store.gate = new Promise(() => {})
    const buffer = store.buffer({ batchSize: 2, maxAgeMs: 60_000 })
    for (let n = 1; n <= 5; n++) buffer.push(item(n))
    while (store.prepared.length === 0) await new Promise((resolve) => setImmediate(resolve))
    await buffer.close(30)
    // 1-2 are being written with no answer (the process may end now), 3-4 were prepared, 5 queued.
    expect(store.prepared.map((p) => p.items)).toEqual([[3, 4]])
    expect([...store.dropped.shutdown].sort()).toEqual([1, 2, 3, 4, 5])
    expect(buffer.held).toBe(0)
  })

  it('drops and reports a batch whose writes never answer within writeTimeoutMs, leaving at most five unanswered', async () => {
    const store = new Store()
    let open!: () => void
    store.gate = new Promise((resolve) => {
      open = resolve
    })
    const buffer = store.buffer({ batchSize: 2, maxAgeMs: 60_000, writeTimeoutMs: 10 })
    buffer.push(item(1))
    buffer.push(item(2))
    // Before, flush() waited for ever, and every event behind the batch with it.
    await buffer.flush()
    expect(store.dropped['write-failed']).toEqual([1, 2])
    expect(store.writeErrors.every((error) => error instanceof WriteTimeoutError)).toBe(true)
    expect(store.writes).toBe(5)
    // A store answering none is called no more: the next batch waits for a write to answer.
    buffer.push(item(3))
    buffer.push(item(4))
    await buffer.flush()
    expect(store.dropped['write-failed']).toEqual([1, 2, 3, 4])
    expect(store.writes).toBe(5)
    // Items a write still runs with are kept until it answers.
    expect(store.released).toEqual([3, 4])
    store.gate = undefined
    open()
    buffer.push(item(5))
    await buffer.flush()
    // The late answers: the first batch stored after all (once), then the next written.
    expect(store.answered).toEqual([
      { items: [1, 2], late: true },
      { items: [5], late: false },
    ])
    expect([...store.released].sort()).toEqual([1, 2, 3, 4, 5])
  })

  it('ends a batch when a write past its deadline answers: it is not written again', async () => {
    const store = new Store()
    let open!: () => void
    store.gate = new Promise((resolve) => {
      open = resolve
    })
    const buffer = store.buffer({
      batchSize: 2,
      maxAgeMs: 60_000,
      writeTimeoutMs: 10,
      retryBaseMs: 60_000,
      retryMaxMs: 60_000,
    })
    buffer.push(item(1))
    buffer.push(item(2))
    const flushed = buffer.flush()
    while (store.writeErrors.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    store.gate = undefined
    open()
    await flushed
    expect(store.writes).toBe(1)
    expect(store.answered).toEqual([{ items: [1, 2], late: false }])
    expect(store.dropped['write-failed']).toEqual([])
  })

  it('writes a batch when batchSize items are queued, without waiting for the age', async () => {
    const store = new Store()
    const buffer = store.buffer({ batchSize: 3, maxAgeMs: 60_000 })
    for (let n = 1; n <= 3; n++) buffer.push(item(n))
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(store.batches).toEqual([[1, 2, 3]])
  })

  it('writes when the queued bytes reach batchBytes, and never more bytes per write', async () => {
    const store = new Store()
    const buffer = store.buffer({ batchSize: 100, batchBytes: 25, maxAgeMs: 60_000 })
    for (let n = 1; n <= 5; n++) buffer.push(item(n, 10))
    await new Promise((resolve) => setTimeout(resolve, 20))
    // 50 bytes queued: written without a flush, in writes of at most 25 bytes.
    expect(store.batches).toEqual([
      [1, 2],
      [3, 4],
    ])
    await buffer.flush()
    expect(store.batches).toEqual([[1, 2], [3, 4], [5]])
  })

  it('writes a lone event once it has waited maxAgeMs', async () => {
    const store = new Store()
    const buffer = store.buffer({ batchSize: 100, maxAgeMs: 20 })
    buffer.push(item(1))
    expect(store.written).toEqual([])
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(store.written).toEqual([1])
  })

  it('flush() resolves only after the items pushed before it, including the one being written, are stored', async () => {
    const store = new Store()
    const buffer = store.buffer({ batchSize: 2, maxAgeMs: 60_000 })
    let open!: () => void
    store.gate = new Promise((resolve) => {
      open = resolve
    })
    buffer.push(item(1))
    buffer.push(item(2))
    buffer.push(item(3))
    let flushed = false
    const flush = buffer.flush().then(() => {
      flushed = true
    })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(flushed).toBe(false)
    open()
    await flush
    expect(store.written).toEqual([1, 2, 3])
  })

  it('keeps events through failed writes and retries them in order', async () => {
    const store = new Store()
    const buffer = store.buffer({ batchSize: 2, maxAgeMs: 60_000 })
    store.failing = new Error('connection refused')
    for (let n = 1; n <= 5; n++) buffer.push(item(n))
    const flush = buffer.flush()
    while (store.writes < 3) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(store.written).toEqual([])
    store.failing = undefined
    await flush
    expect(store.written).toEqual([1, 2, 3, 4, 5])
    expect(store.dropped.overflow).toEqual([])
  })

  it('rejects flush past timeoutMs with the count still buffered, dropping nothing', async () => {
    const store = new Store()
    const buffer = store.buffer({ batchSize: 2, maxAgeMs: 60_000 })
    store.failing = new Error('down')
    buffer.push(item(1))
    buffer.push(item(2))
    buffer.push(item(3))
    const error = await buffer.flush({ timeoutMs: 20 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(FlushTimeoutError)
    expect((error as FlushTimeoutError).pending).toBe(3)
    expect(buffer.held).toBe(3)
    store.failing = undefined
    await buffer.flush()
    expect(store.written).toEqual([1, 2, 3])
  })

  it('drops the batch after five failures that are not transient, and reports it', async () => {
    const store = new Store()
    const buffer = store.buffer({ batchSize: 2, maxAgeMs: 60_000 })
    store.failing = new Error('relation does not exist')
    store.transient = false
    buffer.push(item(1))
    buffer.push(item(2))
    await buffer.flush()
    expect(store.writes).toBe(5)
    expect(store.dropped['write-failed']).toEqual([1, 2])
  })

  for (const overflow of ['drop-oldest', 'drop-newest'] as const) {
    it(`under ${overflow}, holds at most capacity and reports every event it drops`, async () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 20 }),
          fc.integer({ min: 0, max: 80 }),
          (capacity, count) => {
            const store = new Store()
            store.failing = new Error('down')
            const buffer = store.buffer({
              capacity,
              batchSize: capacity,
              maxAgeMs: 60_000,
              overflow,
            })
            for (let n = 1; n <= count; n++) {
              buffer.push(item(n))
              expect(buffer.held).toBeLessThanOrEqual(capacity)
            }
            const kept = Math.min(count, capacity)
            expect(buffer.held).toBe(kept)
            expect(store.dropped.overflow).toHaveLength(count - kept)
            const dropped = new Set(store.dropped.overflow)
            const expected =
              overflow === 'drop-newest'
                ? Array.from({ length: count - kept }, (_, i) => kept + 1 + i)
                : Array.from({ length: count - kept }, (_, i) => i + 1)
            expect([...dropped].sort((a, b) => a - b)).toEqual(expected)
          },
        ),
      )
    })
  }

  it('under block, makes callers wait for room and admits them in order', async () => {
    const store = new Store()
    let open!: () => void
    store.gate = new Promise((resolve) => {
      open = resolve
    })
    const buffer = store.buffer({ capacity: 2, batchSize: 2, maxAgeMs: 60_000, overflow: 'block' })
    expect(buffer.push(item(1))).toBeUndefined()
    expect(buffer.push(item(2))).toBeUndefined()
    const third = buffer.push(item(3))
    const fourth = buffer.push(item(4))
    expect(third).toBeInstanceOf(Promise)
    expect(buffer.blocked).toBe(2)
    const flush = buffer.flush()
    open()
    await third
    await fourth
    await flush
    expect(store.written).toEqual([1, 2, 3, 4])
    expect(store.dropped.overflow).toEqual([])
  })

  it('on close, settles the callers still blocked once their events are dropped as shutdown', async () => {
    const store = new Store()
    store.failing = new Error('down')
    const buffer = store.buffer({ capacity: 2, batchSize: 2, maxAgeMs: 60_000, overflow: 'block' })
    buffer.push(item(1))
    buffer.push(item(2))
    let settled = 0
    for (const blocked of [buffer.push(item(3)), buffer.push(item(4))]) {
      void blocked?.then(() => settled++)
    }
    await buffer.close(30)
    await new Promise((resolve) => setImmediate(resolve))
    expect(settled).toBe(2)
    expect([...store.dropped.shutdown].sort()).toEqual([1, 2, 3, 4])
    expect(buffer.blocked).toBe(0)
  })

  it('on close, drops what the deadline leaves and reports it as shutdown; later pushes as closed', async () => {
    const store = new Store()
    store.failing = new Error('down')
    const buffer = store.buffer({ batchSize: 2, maxAgeMs: 60_000 })
    for (let n = 1; n <= 5; n++) buffer.push(item(n))
    await buffer.close(30)
    expect([...store.dropped.shutdown].sort()).toEqual([1, 2, 3, 4, 5])
    buffer.push(item(6))
    expect(store.dropped.closed).toEqual([6])
  })

  it('on close, writes everything when the store answers within the deadline', async () => {
    const store = new Store()
    const buffer = store.buffer({ batchSize: 1_000, maxAgeMs: 60_000 })
    for (let n = 1; n <= 2_500; n++) buffer.push(item(n))
    await buffer.close(5_000)
    expect(store.written).toHaveLength(2_500)
    expect(store.dropped.shutdown).toEqual([])
  })
})
