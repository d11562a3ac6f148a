import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { ValidationError } from '../../errors/http-errors.js'
import { MortarError } from '../../errors/mortar-error.js'

/**
 * A sort value as it travels inside a cursor; `null` only for a key marked nullable. A timestamp
 * travels as the database's own text (see paginate), never as a JS date.
 */
export type CursorValue = string | number | boolean | bigint | null

type EncodedValue = string | number | boolean | null | { readonly b: string }

interface CursorPayload {
  /** Fingerprint of the query and its ordering: a cursor only continues the listing it came from. */
  readonly o: string
  /** The sort values of the last row of the page, one per sort key. */
  readonly v: readonly EncodedValue[]
}

const VERSION = 1
const MAC_BYTES = 32
// Long enough for many sort keys; anything longer is garbage and is refused before decoding.
const MAX_CURSOR_CHARS = 4096
const BASE64URL = /^[A-Za-z0-9_-]+$/

/** The 422 every unusable cursor turns into: it names the parameter and never echoes the cursor. */
export function invalidCursor(reason: string): ValidationError {
  return new ValidationError(
    [{ path: 'after', message: reason, code: 'invalid_cursor' }],
    'The page cursor is invalid; request the first page again without `after`.',
  )
}

/** A short, stable fingerprint of a listing: the query's SQL text plus its ordering. */
export function fingerprint(sqlText: string, ordering: readonly string[]): string {
  return createHash('sha256')
    .update(sqlText)
    .update('\u0000')
    .update(ordering.join(','))
    .digest('base64url')
    .slice(0, 22)
}

/** The 500 for a NULL in a sort key not marked nullable; it says how to mark it. */
export function nullSortValue(column: string): MortarError {
  return new MortarError(
    'E_PAGINATION_NULL_SORT_VALUE',
    500,
    `Sort column '${column}' is null in a row, but its sort key is not marked nullable: ` +
      `declare it as { column: '${column}', nullable: true } (NULLs sort last ascending, first ` +
      'descending), or make the column NOT NULL.',
  )
}

function encodeValue(column: string, value: unknown, nullable: boolean): EncodedValue {
  if (typeof value === 'string' || typeof value === 'boolean') return value
  // Any finite double, 1e21 too: whether it is the value the database holds (a big integer a
  // driver rounded is not) is paginate's check of the key's text, made before a cursor is.
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'bigint') return { b: value.toString() }
  if (value === null) {
    if (nullable) return null
    throw nullSortValue(column)
  }
  throw new MortarError(
    'E_PAGINATION_SORT_VALUE',
    500,
    `Sort column '${column}' holds a value a cursor cannot carry; sort by strings, numbers, ` +
      'bigints, booleans or timestamps (or mark a nullable column nullable: true).',
  )
}

function decodeValue(value: unknown): CursorValue {
  if (typeof value === 'string' || typeof value === 'boolean' || value === null) return value
  if (typeof value === 'number' && Number.isFinite(value)) return value
  if (typeof value === 'object' && value !== null) {
    const tagged = value as Record<string, unknown>
    if (typeof tagged.b === 'string' && /^-?\d+$/.test(tagged.b)) return BigInt(tagged.b)
    // A JS date, cut to the millisecond, from a cursor issued before timestamps travelled as the
    // database's text: on a finer column it would skip or repeat the rows of that millisecond.
    if ('d' in tagged) {
      throw invalidCursor('The cursor predates full-precision timestamps; start again.')
    }
  }
  throw invalidCursor('The cursor holds a value of an unknown kind.')
}

function mac(key: Uint8Array, body: Uint8Array): Buffer {
  return createHmac('sha256', key).update(body).digest()
}

/**
 * Seals the sort values of a row into an opaque cursor: base64url of a version byte, an
 * HMAC-SHA256 over version and payload, and the JSON payload. Signed, not encrypted: it carries
 * only values the page already showed.
 */
export function encodeCursor(
  keys: readonly Uint8Array[],
  listing: string,
  columns: readonly string[],
  values: readonly unknown[],
  nullable: readonly boolean[] = [],
): string {
  const payload: CursorPayload = {
    o: listing,
    v: values.map((value, index) =>
      encodeValue(columns[index] ?? '?', value, nullable[index] === true),
    ),
  }
  const body = Buffer.concat([Buffer.of(VERSION), Buffer.from(JSON.stringify(payload), 'utf8')])
  // The first key signs; the others only verify, so a rotated-out key keeps open listings alive.
  const signer = keys[0]
  if (!signer) throw new TypeError('encodeCursor needs at least one key.')
  const tag = mac(signer, body)
  return Buffer.concat([Buffer.of(VERSION), tag, body.subarray(1)]).toString('base64url')
}

/**
 * Opens a cursor made by {@link encodeCursor} for the same listing; anything else (garbage,
 * a flipped byte, another key, another query or ordering) throws the 422 of {@link invalidCursor}.
 */
export function decodeCursor(
  keys: readonly Uint8Array[],
  listing: string,
  keyCount: number,
  cursor: string,
): CursorValue[] {
  if (
    typeof cursor !== 'string' ||
    cursor.length === 0 ||
    cursor.length > MAX_CURSOR_CHARS ||
    !BASE64URL.test(cursor)
  ) {
    throw invalidCursor('The cursor is not a cursor this server issued.')
  }
  const bytes = Buffer.from(cursor, 'base64url')
  if (bytes.length < 2 + MAC_BYTES || bytes[0] !== VERSION) {
    throw invalidCursor('The cursor is not a cursor this server issued.')
  }
  const tag = bytes.subarray(1, 1 + MAC_BYTES)
  const json = bytes.subarray(1 + MAC_BYTES)
  const body = Buffer.concat([Buffer.of(VERSION), json])
  if (!keys.some((key) => timingSafeEqual(tag, mac(key, body)))) {
    throw invalidCursor('The cursor was altered or signed with another key.')
  }
  let payload: unknown
  try {
    payload = JSON.parse(json.toString('utf8'))
  } catch {
    throw invalidCursor('The cursor is not a cursor this server issued.')
  }
  const { o, v } = (payload ?? {}) as Partial<CursorPayload>
  if (o !== listing) {
    throw invalidCursor('The cursor belongs to another listing or ordering.')
  }
  if (!Array.isArray(v) || v.length !== keyCount) {
    throw invalidCursor('The cursor does not match the ordering of this listing.')
  }
  return v.map(decodeValue)
}
