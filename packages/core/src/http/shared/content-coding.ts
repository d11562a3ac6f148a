import type { IncomingHttpHeaders } from 'node:http'
import { type Readable, Transform } from 'node:stream'
import * as zlib from 'node:zlib'
import {
  BadRequestError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../../errors/index.js'

/** A content coding every adapter decodes in a request body. */
export type ContentCoding = 'gzip' | 'deflate' | 'br' | 'zstd'

interface Decoder {
  readonly whole: (bytes: Uint8Array, options: { maxOutputLength: number }) => Uint8Array
  readonly stream: () => Transform
}

// The codings Express's body-parser decodes, so every adapter takes the same bodies: zstd where
// this Node's zlib has it (22.15+, 23.8+).
const DECODERS = new Map<string, Decoder>([
  ['gzip', { whole: zlib.gunzipSync, stream: zlib.createGunzip }],
  ['deflate', { whole: zlib.inflateSync, stream: zlib.createInflate }],
  ['br', { whole: zlib.brotliDecompressSync, stream: zlib.createBrotliDecompress }],
  ...('zstdDecompressSync' in zlib
    ? [['zstd', { whole: zlib.zstdDecompressSync, stream: zlib.createZstdDecompress }] as const]
    : []),
])

/**
 * The content coding of a request body from its `content-encoding`: undefined for none (absent,
 * empty or `identity`); an {@link UnsupportedMediaTypeError} (415, RFC 9110 §15.5.16) for a
 * coding no adapter decodes, or a list of them (`gzip, br`), which body-parser refuses too.
 */
export function contentCoding(header: string | undefined): ContentCoding | undefined {
  const coding = header?.trim().toLowerCase()
  if (coding === undefined || coding === '' || coding === 'identity') return undefined
  if (DECODERS.has(coding)) return coding as ContentCoding
  throw unsupportedCoding(header, undefined)
}

/** The 415 for a body in a content coding that no adapter decodes. */
export function unsupportedCoding(
  header: string | undefined,
  cause: unknown,
): UnsupportedMediaTypeError {
  return new UnsupportedMediaTypeError(
    `The request body's content-encoding ${JSON.stringify(header?.slice(0, 64) ?? '')} is not supported; send it uncompressed or as ${[...DECODERS.keys()].join(', ')}.`,
    { cause },
  )
}

/** Whether a node:http request carries a body (a length above 0, or chunks). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length']
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * The whole body `bytes`, decoded from the request's `content-encoding` (see
 * {@link contentCoding}): at most `limit` bytes once decoded, a {@link PayloadTooLargeError} (413)
 * past it, so a small compressed body cannot expand without bound; bytes that are not in the
 * coding they claim are a {@link BadRequestError} (400).
 */
export function decodeBody(
  bytes: Uint8Array,
  header: string | undefined,
  limit: number,
): Uint8Array {
  const coding = contentCoding(header)
  if (coding === undefined) return bytes
  // zlib stops as soon as the output passes maxOutputLength (which must be at least 1).
  const options = { maxOutputLength: Math.max(1, limit) }
  let decoded: Uint8Array
  try {
    decoded = (DECODERS.get(coding) as Decoder).whole(bytes, options)
  } catch (error) {
    throw decodeFailure(error, coding)
  }
  if (decoded.length > limit) throw new PayloadTooLargeError()
  return decoded
}

/**
 * `payload` decoded from `coding` as it arrives, failing with a {@link PayloadTooLargeError}
 * (413) once the decoded bytes pass `limit` (and decoding no further) and with a
 * {@link BadRequestError} (400) on bytes not in that coding. `receivedEncodedLength` counts the
 * bytes that arrived, as Fastify asks of a decoding `preParsing` stream.
 */
export function decodingStream(
  payload: Readable,
  coding: ContentCoding,
  limit: number,
): Readable & { receivedEncodedLength: number } {
  const inflate = (DECODERS.get(coding) as Decoder).stream()
  let decoded = 0
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      decoded += chunk.length
      if (decoded > limit) callback(new PayloadTooLargeError())
      else callback(null, chunk)
    },
  })
  const stream = Object.assign(counted, { receivedEncodedLength: 0 })
  payload.on('data', (chunk: Buffer) => {
    stream.receivedEncodedLength += chunk.length
  })
  payload.on('error', (error) => stream.destroy(error))
  inflate.on('error', (error) => stream.destroy(decodeFailure(error, coding)))
  // Past the limit (or failed), nothing more is decoded: a bomb costs at most `limit` bytes.
  stream.on('close', () => {
    payload.unpipe(inflate)
    inflate.destroy()
  })
  payload.pipe(inflate).pipe(stream)
  return stream
}

function decodeFailure(error: unknown, coding: ContentCoding): Error {
  if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
    return new PayloadTooLargeError()
  }
  return new BadRequestError(
    `The request body is not valid ${coding} data, as its content-encoding says; send it encoded whole, or uncompressed.`,
    { cause: error },
  )
}
