import { type RenderedProblem, toProblem } from '../../errors/index.js'
import type { Logger } from '../../logger/logger.js'
import { normalizeHttpError } from './normalize-http-error.js'

/** What {@link renderHttpError} needs besides the error. */
export interface RenderHttpErrorOptions {
  /** Where 5xx errors are logged; 4xx are the client's doing and are not. */
  readonly logger: Logger | undefined
  readonly requestId: string
  readonly method: string
  /** The request URL; only its path is rendered, since a query string may carry a token. */
  readonly url: string
}

/**
 * Renders any error an adapter caught as problem+json, with the request's path as `instance` and
 * its id, and logs server errors with that id.
 */
export function renderHttpError(error: unknown, options: RenderHttpErrorOptions): RenderedProblem {
  const normalized = normalizeHttpError(error)
  const problem = toProblem(normalized, {
    instance: pathOf(options.url),
    requestId: options.requestId,
  })
  if (problem.status >= 500) {
    options.logger?.error(
      {
        err: error,
        requestId: options.requestId,
        method: options.method,
        path: pathOf(options.url),
      },
      'Request failed with an unexpected error',
    )
  }
  return problem
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}
