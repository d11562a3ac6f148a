import type { IncomingMessage } from 'node:http'
import { BadRequestError, PayloadTooLargeError } from '../../errors/index.js'

/**
 * Reads a node:http request body into one buffer, refusing it with a {@link PayloadTooLargeError}
 * as soon as it passes `limit` bytes: at once when `content-length` says so, otherwise when the
 * bytes received do (a chunked body declares no length).
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(request.headers['content-length']) > limit) {
    return Promise.reject(new PayloadTooLargeError())
  }
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
      resolve(Buffer.concat(chunks))
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
