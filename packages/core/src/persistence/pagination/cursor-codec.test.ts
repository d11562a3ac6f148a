import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../errors/http-errors.js'
import { isMortarError } from '../../errors/mortar-error.js'
import { decodeCursor, encodeCursor, fingerprint } from './cursor-codec.js'

const KEY = [Buffer.alloc(32, 7)]
const LISTING = fingerprint('select "id" from "items"', ['id asc'])

function codeOf(run: () => unknown): string | undefined {
  try {
    run()
  } catch (error) {
    return isMortarError(error) ? error.code : 'not a MortarError'
  }
  return undefined
}

describe('page cursors', () => {
  it('carry strings, numbers, booleans and bigints unchanged', () => {
    const value = fc.oneof(
      fc.string(),
      // JSON turns -0 into 0, which compares equal in SQL.
      // Doubles past 2^53 (1e21) too: a DOUBLE column holds them exactly.
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
      fc.boolean(),
      fc.bigInt(),
    )
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (values) => {
        const columns = values.map((_, index) => `c${index}`)
        const cursor = encodeCursor(KEY, LISTING, columns, values)
        expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/)
        expect(decodeCursor(KEY, LISTING, values.length, cursor)).toEqual(values)
      }),
    )
  })

  it('refuse values they cannot carry', () => {
    expect(codeOf(() => encodeCursor(KEY, LISTING, ['blob'], [Buffer.from('x')]))).toBe(
      'E_PAGINATION_SORT_VALUE',
    )
    expect(codeOf(() => encodeCursor(KEY, LISTING, ['n'], [Number.NaN]))).toBe(
      'E_PAGINATION_SORT_VALUE',
    )
    expect(codeOf(() => encodeCursor(KEY, LISTING, ['note'], [null]))).toBe(
      'E_PAGINATION_NULL_SORT_VALUE',
    )
  })

  it('refuse a cursor issued with a JS date, cut to the millisecond, before timestamps travelled as text', () => {
    // The format before: version, HMAC of version and JSON, JSON; a timestamp as { d: ISO }.
    const body = Buffer.from(
      JSON.stringify({ o: LISTING, v: [{ d: '2026-01-01T00:00:00.123Z' }, 7] }),
    )
    const signed = Buffer.concat([Buffer.of(1), body])
    const tag = createHmac('sha256', KEY[0] as Buffer)
      .update(signed)
      .digest()
    const old = Buffer.concat([Buffer.of(1), tag, body]).toString('base64url')
    expect(() => decodeCursor(KEY, LISTING, 2, old)).toThrow(ValidationError)
    expect(codeOf(() => encodeCursor(KEY, LISTING, ['at'], [new Date()]))).toBe(
      'E_PAGINATION_SORT_VALUE',
    )
  })

  it('carry a NULL for a key marked nullable', () => {
    const cursor = encodeCursor(KEY, LISTING, ['note', 'id'], [null, 7], [true, false])
    expect(decodeCursor(KEY, LISTING, 2, cursor)).toEqual([null, 7])
  })

  it('bind the listing: another fingerprint or key count is refused', () => {
    const cursor = encodeCursor(KEY, LISTING, ['id'], [5])
    const other = fingerprint('select "id" from "items"', ['id desc'])
    expect(() => decodeCursor(KEY, other, 1, cursor)).toThrow(ValidationError)
    expect(() => decodeCursor(KEY, LISTING, 2, cursor)).toThrow(ValidationError)
  })
})
