import { MortarError, type MortarErrorOptions } from '../errors/mortar-error.js'

/**
 * Raised by `app.start()` when the dependency graph cannot work: a key nobody binds, a cycle, a
 * singleton that captures a scoped provider, a parameter whose type is not known at run time.
 * It lists every problem found, one per line, each naming the class, the constructor parameter,
 * the key and the module.
 *
 * @example
 * ```ts
 * import { StartupError } from '@mortar/core'
 *
 * try {
 *   await app.start()
 * } catch (error) {
 *   if (error instanceof StartupError) for (const problem of error.problems) console.error(problem)
 *   process.exitCode = 1
 * }
 * ```
 */
export class StartupError extends MortarError {
  /** Each problem as one sentence that ends with what to do. */
  readonly problems: readonly string[]

  constructor(problems: readonly string[], options?: MortarErrorOptions) {
    const count = problems.length === 1 ? 'this problem' : `these ${problems.length} problems`
    super(
      'E_STARTUP',
      500,
      `The app cannot start; fix ${count}:\n${problems.map((p) => `- ${p}`).join('\n')}`,
      options,
    )
    this.problems = problems
  }
}
