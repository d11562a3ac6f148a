import { currentRequestContext } from '../../context/index.js'
import { BadRequestError, UnsupportedMediaTypeError } from '../../errors/index.js'
import { DEFAULT_BODY_LIMIT } from './body-limit.js'
import { contentCoding, decodeBody } from './content-coding.js'

export { PayloadTooLargeError, UnsupportedMediaTypeError } from '../../errors/index.js'

/** The message of every malformed-JSON 400, whichever framework parsed the body. */
export const MALFORMED_JSON_MESSAGE =
  'The request body is not valid JSON; send a well-formed JSON document.'

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/** Whether a `content-type` declares JSON (`application/json`, `application/…+json`). */
export function isJsonType(type: string | undefined): boolean {
  return type !== undefined && JSON_TYPE.test(type)
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i

/**
 * A 415 for a `content-type` that names a charset other than UTF-8, else undefined. Mortar reads
 * bodies as UTF-8: read so, a Latin-1 body that happens to be valid UTF-8 (`Ã©`) becomes other
 * text than the client sent.
 */
export function charsetRefusal(type: string | undefined): UnsupportedMediaTypeError | undefined {
  const charset = CHARSET.exec(type ?? '')?.[1]
  if (charset === undefined || /^utf-8$/i.test(charset)) return undefined
  return new UnsupportedMediaTypeError(
    `The request body's charset ${JSON.stringify(charset)} is not supported; send it as UTF-8.`,
  )
}

/**
 * A 415 for a body read as JSON that is not declared as UTF-8 JSON, else undefined: no
 * `content-type`, another type (a form, `text/plain`) or another charset. As Fastify's parser
 * does, so every adapter takes the same bodies; a form or a `text/plain` body is what a
 * cross-site page can send without a preflight.
 */
export function jsonTypeRefusal(type: string | undefined): UnsupportedMediaTypeError | undefined {
  return isJsonType(type) ? charsetRefusal(type) : new UnsupportedMediaTypeError()
}

/** The 400 for a body that holds a key which sets a prototype when copied. */
export const PROTOTYPE_KEY_MESSAGE =
  'The request body holds a "__proto__" or "constructor.prototype" key, which is refused; rename the field.'

// What a body must contain, escaped or not, to hold either key: most bodies are never walked.
const MAY_HOLD_PROTOTYPE_KEY = /proto|constructor|\\u/

/**
 * Throws a {@link BadRequestError} (400) when a parsed body holds a `__proto__` key, or a
 * `constructor` whose value holds `prototype`, at any depth (as Fastify's parser refuses them).
 * JSON.parse makes them plain data, but `Object.assign`, a deep merge or `target[key] = value`
 * copying the body then sets a prototype: the app's object, or every object's.
 */
export function refusePrototypeKeys(value: unknown): void {
  const pending: unknown[] = [value]
  while (pending.length > 0) {
    const node = pending.pop()
    if (typeof node !== 'object' || node === null) continue
    if (Array.isArray(node)) {
      for (const item of node) pending.push(item)
      continue
    }
    // Only the plain objects a parser makes: a Buffer or a Date holds no keys to walk.
    const prototype = Object.getPrototypeOf(node)
    if (prototype !== Object.prototype && prototype !== null) continue
    const record = node as Record<string, unknown>
    if (Object.hasOwn(record, '__proto__')) throw new BadRequestError(PROTOTYPE_KEY_MESSAGE)
    const made = Object.hasOwn(record, 'constructor') ? record.constructor : undefined
    if (typeof made === 'object' && made !== null && Object.hasOwn(made, 'prototype')) {
      throw new BadRequestError(PROTOTYPE_KEY_MESSAGE)
    }
    for (const key in record) pending.push(record[key])
  }
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

/**
 * The JSON document in a whole request body; bytes that are not UTF-8 or not JSON, and a
 * `__proto__` or `constructor.prototype` key (see {@link refusePrototypeKeys}), are a 400.
 */
export function parseJsonBytes(bytes: ArrayBuffer | Uint8Array): unknown {
  let text: string
  let value: unknown
  try {
    text = UTF8.decode(bytes)
    value = JSON.parse(text)
  } catch (error) {
    throw malformedJson(error)
  }
  if (MAY_HOLD_PROTOTYPE_KEY.test(text)) refusePrototypeKeys(value)
  return value
}

/**
 * `request`, whose `json()` reads its bytes with {@link parseJsonBytes} once its `content-type`
 * says UTF-8 JSON (see {@link jsonTypeRefusal}, a 415 otherwise), decoded from its
 * `content-encoding` within the request's body limit (see {@link decodeBody}): not UTF-8 or
 * malformed is a 400.
 */
export function withBodyJson(request: Request): Request {
  const bytes = request.arrayBuffer.bind(request)
  Object.defineProperty(request, 'json', {
    value: async () => {
      const refused = jsonTypeRefusal(request.headers.get('content-type') ?? undefined)
      if (refused) throw refused
      const coding = request.headers.get('content-encoding') ?? undefined
      contentCoding(coding)
      const limit = currentRequestContext()?.http?.bodyLimit ?? DEFAULT_BODY_LIMIT
      return parseJsonBytes(decodeBody(new Uint8Array(await bytes()), coding, limit))
    },
    configurable: true,
  })
  return request
}

function malformedJson(cause: unknown): BadRequestError {
  return new BadRequestError(MALFORMED_JSON_MESSAGE, { cause })
}
