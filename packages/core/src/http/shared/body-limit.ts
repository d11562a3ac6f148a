import type { IncomingHttpHeaders } from 'node:http'
import { PayloadTooLargeError } from '../../errors/index.js'
import { describeOption } from '../../validation/number-in.js'

/** The body limit every adapter applies unless told otherwise: 1 MiB, as Fastify's default. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024

/** Checks an adapter's `bodyLimit` option and fills the default; a bad one fails at set-up. */
export function resolveBodyLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_BODY_LIMIT
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new TypeError(`bodyLimit must be a whole number of bytes; got ${describeOption(limit)}.`)
  }
  return limit
}

/**
 * A {@link PayloadTooLargeError} when a request declares a body longer than `limit`
 * (`content-length`), so it is refused before anything reads it; `undefined` otherwise. A chunked
 * body declares no length: the readers (`readJson`, mounted fetch handlers) count its bytes.
 */
export function declaredTooLarge(
  headers: IncomingHttpHeaders,
  limit: number,
): PayloadTooLargeError | undefined {
  const declared = headers['content-length']
  return declared !== undefined && Number(declared) > limit ? new PayloadTooLargeError() : undefined
}
