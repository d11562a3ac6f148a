import { MortarError } from '../errors/mortar-error.js'

/**
 * `requestContext()` was called outside a request: in a job, a script, a timer, or before an
 * adapter opened the context. Where that can happen, use `currentRequestContext()`, which
 * returns `undefined` instead.
 *
 * @example
 * ```ts
 * import { NoRequestContextError, requestContext } from '@mortar/core'
 *
 * try {
 *   requestContext()
 * } catch (error) {
 *   if (error instanceof NoRequestContextError) console.error(error.code) // 'E_NO_REQUEST_CONTEXT'
 * }
 * ```
 */
export class NoRequestContextError extends MortarError {
  constructor() {
    super(
      'E_NO_REQUEST_CONTEXT',
      500,
      'No request context: this code ran outside a request. Use currentRequestContext() where that can happen.',
    )
  }
}
