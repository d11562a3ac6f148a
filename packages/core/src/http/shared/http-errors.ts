import { BadRequestError } from '../../errors/index.js'

export { PayloadTooLargeError, UnsupportedMediaTypeError } from '../../errors/index.js'

/** The message of every malformed-JSON 400, whichever framework parsed the body. */
export const MALFORMED_JSON_MESSAGE =
  'The request body is not valid JSON; send a well-formed JSON document.'

/**
 * `parse()`, a read of the request body as JSON, with a malformed body reported as the client's
 * mistake: a {@link BadRequestError} (400). Only a body read says so; a `SyntaxError` from
 * anywhere else (the app parsing data it stored) stays a server error, rendered as a 500 and
 * logged.
 */
export async function parseBodyJson<T>(parse: () => Promise<T>): Promise<T> {
  try {
    return await parse()
  } catch (error) {
    if (error instanceof SyntaxError)
      throw new BadRequestError(MALFORMED_JSON_MESSAGE, { cause: error })
    throw error
  }
}

/** `request`, whose `json()` reports a malformed body as a 400 (see {@link parseBodyJson}). */
export function withBodyJson(request: Request): Request {
  const json = request.json.bind(request)
  Object.defineProperty(request, 'json', { value: () => parseBodyJson(json), configurable: true })
  return request
}
