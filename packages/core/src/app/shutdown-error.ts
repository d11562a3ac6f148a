import { MortarError, type MortarErrorOptions } from '../errors/mortar-error.js'

/**
 * Raised by `app.stop()` after every module had its turn, when some `onStop` threw or missed its
 * deadline (or a singleton's `dispose()` did). The other modules were still stopped; each failure
 * was logged as it happened.
 *
 * @example
 * ```ts
 * import { ShutdownError } from '@mortar/core'
 *
 * await app.stop({ timeoutMs: 5_000 }).catch((error) => {
 *   if (error instanceof ShutdownError) process.exitCode = 1
 * })
 * ```
 */
export class ShutdownError extends MortarError {
  /** Each failure as one sentence naming the module. */
  readonly failures: readonly string[]

  constructor(failures: readonly string[], options?: MortarErrorOptions) {
    super(
      'E_SHUTDOWN',
      500,
      `The app did not stop cleanly; check these resources for leaks:\n${failures.map((f) => `- ${f}`).join('\n')}`,
      options,
    )
    this.failures = failures
  }
}
