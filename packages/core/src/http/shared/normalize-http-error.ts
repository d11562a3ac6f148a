import { BadRequestError, isMortarError, MortarError } from '../../errors/index.js'
import {
  MALFORMED_JSON_MESSAGE,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from './http-errors.js'
import { unsupportedCoding } from './content-coding.js'
import { MALFORMED_PATH_MESSAGE } from './malformed-path.js'

// Codes and types the frameworks give to an unparseable JSON body.
const MALFORMED_JSON = new Set([
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
  'entity.parse.failed',
])

/** Hono's `HTTPException`, by the members the adapters read. */
export interface HttpExceptionLike extends Error {
  readonly status: number
  getResponse(): Response
}

/** Whether `error` is Hono's `HTTPException` (or one shaped like it). */
export function isHttpException(error: unknown): error is HttpExceptionLike {
  return (
    error instanceof Error &&
    typeof (error as Partial<HttpExceptionLike>).getResponse === 'function' &&
    typeof (error as Partial<HttpExceptionLike>).status === 'number'
  )
}

/**
 * The one rule, for every adapter, on the status a client sees: only errors meant for the client
 * set it.
 *
 * - A {@link MortarError} (`NotFoundError` and the other HTTP error classes) keeps its own.
 * - Hono's `HTTPException` keeps its status and message: both were written for the client.
 * - The framework's own request errors, with a fixed, safe message (their messages may quote the
 *   body): Fastify's (an `FST_*` code with a 4xx `statusCode`: 413, 415, a bad URL, a failed
 *   schema) and those body-parser and Express raise through http-errors (`expose: true` with a
 *   4xx status), or its router as a `URIError` with a 4xx `status` (a parameter it cannot decode).
 *
 * Anything else is returned as it is and renders as a logged 500, whatever `statusCode` or
 * `status` it carries: a payment provider's 402 or a driver's 404 is the server's failure to
 * handle it, not something the client asked for.
 */
export function normalizeHttpError(error: unknown): unknown {
  if (isMortarError(error) || typeof error !== 'object' || error === null) return error
  if (isHttpException(error)) {
    return new MortarError(
      codeForStatus(error.status),
      error.status,
      error.message || 'The request cannot be processed.',
      { cause: error },
    )
  }
  const status = frameworkStatus(error)
  if (status === undefined) return error
  const fields = error as { code?: unknown; type?: unknown }
  if (MALFORMED_JSON.has(String(fields.code)) || MALFORMED_JSON.has(String(fields.type))) {
    return new BadRequestError(MALFORMED_JSON_MESSAGE, { cause: error })
  }
  // The routers' own word for a path parameter they cannot decode, which every adapter refuses
  // before routing (see malformedPathRefusal) where it can.
  if (status === 400 && (fields.code === 'FST_ERR_BAD_URL' || error instanceof URIError)) {
    return new BadRequestError(MALFORMED_PATH_MESSAGE, { cause: error })
  }
  // body-parser's word for a content-encoding it does not decode: the 415 every adapter gives.
  if (status === 415 && fields.type === 'encoding.unsupported') {
    const { encoding } = error as { encoding?: unknown }
    return unsupportedCoding(typeof encoding === 'string' ? encoding : undefined, error)
  }
  if (status === 413) return new PayloadTooLargeError(undefined, { cause: error })
  if (status === 415) return new UnsupportedMediaTypeError(undefined, { cause: error })
  if (status === 400) return new BadRequestError(undefined, { cause: error })
  return new MortarError(codeForStatus(status), status, 'The request cannot be processed.', {
    cause: error,
  })
}

// The 4xx status of a framework's own request error (Fastify's, or http-errors' as body-parser
// and Express raise them), else undefined. A bare SyntaxError is never one: the adapters turn a
// body read's own into a 400 where it is thrown (parseJsonBytes), so the app's parse of its
// stored data is not taken for one.
function frameworkStatus(error: object): number | undefined {
  const fields = error as {
    code?: unknown
    statusCode?: unknown
    status?: unknown
    expose?: unknown
  }
  const fastify = typeof fields.code === 'string' && fields.code.startsWith('FST_')
  // Express's router raises a URIError with status 400 for a parameter it cannot decode, without
  // http-errors' `expose`; an app's own decodeURIComponent failure carries no status.
  const client = fields.expose === true || error instanceof URIError
  const status = fastify ? fields.statusCode : client ? fields.status : undefined
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 499
    ? status
    : undefined
}

const CODES: Readonly<Record<number, string>> = {
  400: 'E_BAD_REQUEST',
  401: 'E_UNAUTHORIZED',
  403: 'E_FORBIDDEN',
  404: 'E_NOT_FOUND',
  409: 'E_CONFLICT',
  413: 'E_PAYLOAD_TOO_LARGE',
  415: 'E_UNSUPPORTED_MEDIA_TYPE',
  422: 'E_VALIDATION',
  429: 'E_TOO_MANY_REQUESTS',
}

/** The Mortar error code for an HTTP status: the code of the matching error class, or E_HTTP_<status>. */
export function codeForStatus(status: number): string {
  return CODES[status] ?? (status >= 500 ? 'E_INTERNAL' : `E_HTTP_${status}`)
}
