import { MortarError, type MortarErrorOptions } from '../../errors/index.js'

/**
 * 413: the request body is larger than the server accepts. The HTTP adapters raise it for a body
 * over the framework's (or `readJson`'s) limit.
 *
 * @example
 * ```ts
 * import { PayloadTooLargeError } from '@mortar/core/node'
 *
 * throw new PayloadTooLargeError()
 * ```
 */
export class PayloadTooLargeError extends MortarError {
  constructor(
    message = 'The request body is too large; send a smaller body.',
    options?: MortarErrorOptions,
  ) {
    super('E_PAYLOAD_TOO_LARGE', 413, message, options)
  }
}

/**
 * 415: the request body has a content type the route does not accept.
 *
 * @example
 * ```ts
 * import { UnsupportedMediaTypeError } from '@mortar/core/node'
 *
 * throw new UnsupportedMediaTypeError()
 * ```
 */
export class UnsupportedMediaTypeError extends MortarError {
  constructor(
    message = 'The request content type is not supported; send application/json.',
    options?: MortarErrorOptions,
  ) {
    super('E_UNSUPPORTED_MEDIA_TYPE', 415, message, options)
  }
}

/** The message of every malformed-JSON 400, whichever framework parsed the body. */
export const MALFORMED_JSON_MESSAGE =
  'The request body is not valid JSON; send a well-formed JSON document.'
