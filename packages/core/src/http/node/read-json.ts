import type { IncomingMessage } from 'node:http'
import { currentRequestContext } from '../../context/index.js'
import {
  contentCoding,
  DEFAULT_BODY_LIMIT,
  decodeBody,
  jsonTypeRefusal,
  parseJsonBytes,
  readBody,
} from '../shared/index.js'

/**
 * Options of {@link readJson}.
 *
 * @example
 * ```ts
 * import { readJson, type ReadJsonOptions } from '@mortar/core/node'
 *
 * const small: ReadJsonOptions = { limit: 16 * 1024 }
 * const body = await readJson(req, small)
 * ```
 */
export interface ReadJsonOptions {
  /** Largest body accepted, in bytes; by default the adapter's body limit (1 MiB unless set). */
  readonly limit?: number
}

/**
 * Reads a request body as JSON, decoding a gzip, deflate, br or zstd `content-encoding`. A
 * malformed body (invalid UTF-8, or bytes not in the coding they claim, included) or one holding a
 * `__proto__` or `constructor.prototype` key throws a {@link BadRequestError} (400), one over
 * `limit` (as sent or once decoded) a {@link PayloadTooLargeError} (413), and a body not declared
 * as UTF-8 JSON (no `content-type`, another type or charset) or in another content coding an
 * {@link UnsupportedMediaTypeError} (415), so that `withMortar` renders each as a problem.
 *
 * @example
 * ```ts
 * import { readJson, withMortar } from '@mortar/core/node'
 *
 * const listener = withMortar(app, async (req, res) => {
 *   const body = await readJson(req, { limit: 64 * 1024 })
 *   res.setHeader('content-type', 'application/json')
 *   res.end(JSON.stringify(body))
 * })
 * ```
 */
export async function readJson(
  request: IncomingMessage,
  options: ReadJsonOptions = {},
): Promise<unknown> {
  const limit = options.limit ?? currentRequestContext()?.http?.bodyLimit ?? DEFAULT_BODY_LIMIT
  const refused = jsonTypeRefusal(request.headers['content-type'])
  if (refused) throw refused
  const coding = request.headers['content-encoding']
  contentCoding(coding)
  return parseJsonBytes(decodeBody(await readBody(request, limit), coding, limit))
}
