import { BadRequestError } from '../../errors/index.js'

export { PayloadTooLargeError, UnsupportedMediaTypeError } from '../../errors/index.js'

/** The message of every malformed-JSON 400, whichever framework parsed the body. */
export const MALFORMED_JSON_MESSAGE =
  'The request body is not valid JSON; send a well-formed JSON document.'

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/** Whether a `content-type` declares JSON (`application/json`, `application/…+json`). */
export function isJsonType(type: string | undefined): boolean {
  return type !== undefined && JSON_TYPE.test(type)
}

/**
 * A UTF-8 check for a body's bytes as they arrive, in chunks cut anywhere: `check(chunk)` for
 * each, then `check()` at the end. Either throws a {@link BadRequestError} (400) at the first
 * byte that is not UTF-8. JSON is UTF-8 (RFC 8259): the platforms' and frameworks' lenient
 * decoders turn such bytes into U+FFFD, so the app would read and keep text the client never
 * sent.
 */
export function utf8Check(): (chunk?: Uint8Array) => void {
  const decoder = new TextDecoder('utf-8', { fatal: true })
  return (chunk) => {
    try {
      if (chunk === undefined) decoder.decode()
      else decoder.decode(chunk, { stream: true })
    } catch (error) {
      throw malformedJson(error)
    }
  }
}

// One decoder for whole bodies: a call without `stream` keeps no state between bodies.
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** The JSON document in a whole request body; bytes that are not UTF-8 or not JSON are a 400. */
export function parseJsonBytes(bytes: ArrayBuffer | Uint8Array): unknown {
  try {
    return JSON.parse(UTF8.decode(bytes))
  } catch (error) {
    throw malformedJson(error)
  }
}

/**
 * `request`, whose `json()` reads its bytes with {@link parseJsonBytes}: not UTF-8 or malformed
 * is a 400.
 */
export function withBodyJson(request: Request): Request {
  const bytes = request.arrayBuffer.bind(request)
  Object.defineProperty(request, 'json', {
    value: async () => parseJsonBytes(await bytes()),
    configurable: true,
  })
  return request
}

function malformedJson(cause: unknown): BadRequestError {
  return new BadRequestError(MALFORMED_JSON_MESSAGE, { cause })
}
