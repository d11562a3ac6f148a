import { MortarError, type MortarErrorOptions } from '../errors/mortar-error.js'

/**
 * Raised when a key cannot be resolved at run time: it is not bound, it is scoped and was
 * resolved outside a request scope, the app has not started yet, or a non-singleton factory
 * returned a promise. The message says which key and what to do.
 *
 * @example
 * ```ts
 * import { ResolutionError } from '@mortar/core'
 *
 * try {
 *   app.resolve(CURRENT_TENANT)
 * } catch (error) {
 *   if (error instanceof ResolutionError) console.error(error.message)
 * }
 * ```
 */
export class ResolutionError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_RESOLUTION', 500, message, options)
  }
}
