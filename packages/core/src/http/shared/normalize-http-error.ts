import { BadRequestError, isMortarError, MortarError } from '../../errors/index.js'
import {
  MALFORMED_JSON_MESSAGE,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from './http-errors.js'

// Codes and types the frameworks give to an unparseable JSON body.
const MALFORMED_JSON = new Set([
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
  'entity.parse.failed',
])

/**
 * Turns an error a framework raised into a {@link MortarError} when it describes a client mistake
 * (a 4xx `statusCode`/`status`, a framework's malformed-JSON code), so it renders with that status and a fixed,
 * safe message; framework messages may quote the body, so they are never shown. Anything else is
 * returned as it is and renders as a 500.
 */
export function normalizeHttpError(error: unknown): unknown {
  if (isMortarError(error) || typeof error !== 'object' || error === null) return error
  const fields = error as { code?: unknown; type?: unknown; statusCode?: unknown; status?: unknown }
  if (MALFORMED_JSON.has(String(fields.code)) || MALFORMED_JSON.has(String(fields.type))) {
    return new BadRequestError(MALFORMED_JSON_MESSAGE, { cause: error })
  }
  const status = typeof fields.statusCode === 'number' ? fields.statusCode : fields.status
  // A bare SyntaxError is a server's: the adapters turn a body read's own into a 400 where it
  // is thrown (parseBodyJson), so the app's parse of its stored data is never taken for one.
  if (typeof status !== 'number' || status < 400 || status > 499) return error
  if (status === 413) return new PayloadTooLargeError(undefined, { cause: error })
  if (status === 415) return new UnsupportedMediaTypeError(undefined, { cause: error })
  if (status === 400) return new BadRequestError(undefined, { cause: error })
  return new MortarError(codeForStatus(status), status, 'The request cannot be processed.', {
    cause: error,
  })
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

/** The Mortar error code for an HTTP status: the code of the matching error class, or `E_HTTP_<status>`. */
export function codeForStatus(status: number): string {
  return CODES[status] ?? (status >= 500 ? 'E_INTERNAL' : `E_HTTP_${status}`)
}
