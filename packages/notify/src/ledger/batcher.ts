import { AsyncResource } from 'node:async_hooks'

/**
 * Coalesces calls made close together into one batch call: concurrent delivery jobs share one
 * statement to claim their rows and one to record their results, instead of one each. A batch
 * runs on the next turn of the event loop, outside the callers' async context (never inside
 * someone's transaction), or at once when it reaches `maxSize`.
 */
export class Batcher<I, O> {
  readonly #run: (inputs: readonly I[]) => Promise<readonly O[]>
  readonly #maxSize: number
  #pending: { input: I; resolve: (output: O) => void; reject: (error: unknown) => void }[] = []
  #scheduled = false
  readonly #flushDetached: () => void

  constructor(run: (inputs: readonly I[]) => Promise<readonly O[]>, maxSize = 200) {
    this.#run = run
    this.#maxSize = maxSize
    this.#flushDetached = AsyncResource.bind(() => this.#flush())
  }

  /** Adds one input to the next batch; resolves with its output. */
  call(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ input, resolve, reject })
      if (this.#pending.length >= this.#maxSize) {
        this.#flushDetached()
      } else if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(this.#flushDetached)
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    const batch = this.#pending
    if (batch.length === 0) return
    this.#pending = []
    this.#run(batch.map((entry) => entry.input)).then(
      (outputs) => {
        for (const [index, entry] of batch.entries()) entry.resolve(outputs[index] as O)
      },
      (error: unknown) => {
        for (const entry of batch) entry.reject(error)
      },
    )
  }
}
