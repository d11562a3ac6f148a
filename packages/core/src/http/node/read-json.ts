import type { IncomingMessage } from 'node:http'
import { BadRequestError } from '../../errors/index.js'
import {
  MALFORMED_JSON_MESSAGE,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
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
  /** Largest body accepted, in bytes (default 1 MiB). */
  readonly limit?: number
}

const DEFAULT_LIMIT = 1024 * 1024
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/**
 * Reads a request body as JSON. A malformed body throws a {@link BadRequestError} (400), one over
 * `limit` a {@link PayloadTooLargeError} (413), and a body declared as something other than JSON
 * an {@link UnsupportedMediaTypeError} (415), so that `withMortar` renders each as a problem.
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
  const limit = options.limit ?? DEFAULT_LIMIT
  const type = request.headers['content-type']
  if (type !== undefined && !JSON_TYPE.test(type)) throw new UnsupportedMediaTypeError()
  const declared = Number(request.headers['content-length'])
  if (declared > limit) throw new PayloadTooLargeError()
  const text = await readText(request, limit)
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new BadRequestError(MALFORMED_JSON_MESSAGE, { cause: error })
  }
}

function readText(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = () => {
      request.off('data', onData)
      request.off('end', onEnd)
      request.off('error', onError)
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        // Stop buffering; Node discards the rest of the body once the 413 is sent.
        cleanup()
        reject(new PayloadTooLargeError())
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const onError = (error: Error) => {
      cleanup()
      reject(new BadRequestError('The request body could not be read.', { cause: error }))
    }
    request.on('data', onData)
    request.on('end', onEnd)
    request.on('error', onError)
  })
}
