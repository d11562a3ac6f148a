// The fast-check arbitraries of the accounting properties (the buffer's and the tracker's): a
// store answering each write as scripted, pushes of items with pauses between them, and the
// buffer's sizes and overflow policy. One place, so both properties explore the same runs.
import fc from 'fast-check'

/** How the store answers one write: stored, refused, unreachable, or no answer until released. */
export type Outcome = 'ok' | 'fail' | 'transient' | 'hang'

/** What a scripted store throws for an unreachable store: its `isTransient` says yes. */
export class Transient extends Error {}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface ScriptStep {
  readonly outcome: Outcome
  readonly delayMs: number
}

/** The store's answers, taken in turn (and again from the first) by successive writes. */
export const writeScript = fc.array(
  fc.record({
    outcome: fc.constantFrom<Outcome>('ok', 'ok', 'fail', 'transient', 'hang'),
    delayMs: fc.integer({ min: 0, max: 12 }),
  }),
  { minLength: 1, maxLength: 12 },
)

/**
 * Runs writes as `script` says, in turn: after its delay `store` runs (stored), or the write
 * fails (refused, unreachable), or it waits until {@link ScriptedWrites.release} ('hang').
 */
export class ScriptedWrites {
  calls = 0
  readonly unanswered = new Set<Promise<void>>()
  #release!: () => void
  readonly #hung = new Promise<void>((resolve) => {
    this.#release = resolve
  })

  constructor(readonly script: readonly ScriptStep[]) {}

  write(store: () => void | Promise<void>): Promise<void> {
    const step = this.script[this.calls++ % this.script.length] as ScriptStep
    const write = (async () => {
      await (step.outcome === 'hang' ? this.#hung : sleep(step.delayMs))
      if (step.outcome === 'fail') throw new Error('refused')
      if (step.outcome === 'transient') throw new Transient('unreachable')
      await store()
    })()
    this.unanswered.add(write)
    const done = () => this.unanswered.delete(write)
    write.then(done, done)
    return write
  }

  /** Answers the writes held so far and from now on, and waits until none is unanswered. */
  async release(): Promise<void> {
    this.#release()
    while (this.unanswered.size > 0) await Promise.allSettled([...this.unanswered])
  }
}

/** Pushes of 1 to 6 items each (`item` makes one), each followed by a pause of 0 to 4 ms. */
export function pushes<T>(item: fc.Arbitrary<T>) {
  return fc.array(
    fc.record({
      items: fc.array(item, { minLength: 1, maxLength: 6 }),
      pauseMs: fc.integer({ min: 0, max: 4 }),
    }),
    { minLength: 1, maxLength: 8 },
  )
}

/** The buffer's capacity, batch size and overflow policy. */
export const bufferShape = fc.record({
  capacity: fc.integer({ min: 1, max: 12 }),
  batchSize: fc.integer({ min: 1, max: 4 }),
  overflow: fc.constantFrom('drop-oldest' as const, 'drop-newest' as const),
})

/** The buffer's timing in these runs: short, so a run covers retries, deadlines and late answers. */
export const FAST_TIMING = {
  maxAgeMs: 2,
  retryBaseMs: 1,
  retryMaxMs: 2,
  writeTimeoutMs: 10,
} as const
