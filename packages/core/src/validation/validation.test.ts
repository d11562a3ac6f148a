import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { integerId, MAX_SQL_INTEGER } from './integer-id.js'
import { safeText } from './safe-text.js'

describe('safeText', () => {
  const text = safeText({ max: 20 })

  it('accepts any well-formed text without NUL up to its length, emoji and accents included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 5 }), (value) => {
        fc.pre(!value.includes('\u0000') && value.length <= 20)
        expect(text.parse(value)).toBe(value)
      }),
    )
  })

  it('refuses a NUL byte anywhere, a lone surrogate, and text past its length', () => {
    for (const value of ['\u0000', 'a\u0000', '\uD800', 'x\uDFFFy', 'x'.repeat(21)]) {
      expect(text.safeParse(value).success, JSON.stringify(value)).toBe(false)
    }
    expect(safeText({ min: 2, max: 5 }).safeParse('a').success).toBe(false)
  })

  it('chains like z.string()', () => {
    const email = safeText({ max: 254 }).trim().toLowerCase().pipe(z.email())
    expect(email.parse('  Ada@Example.com ')).toBe('ada@example.com')
    expect(email.safeParse('a\u0000@example.com').success).toBe(false)
  })
})

describe('integerId', () => {
  const id = integerId()

  it('reads every id from 1 to the int4 maximum, from a number or its digits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_SQL_INTEGER }), (value) => {
        expect(id.parse(value)).toBe(value)
        expect(id.parse(String(value))).toBe(value)
      }),
    )
  })

  it('refuses past the column, zero, signs, fractions and other spellings Number() takes', () => {
    for (const value of [
      0,
      -1,
      1.5,
      MAX_SQL_INTEGER + 1,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '0',
      '-1',
      '+1',
      '1.5',
      '0x10',
      '1e3',
      ' 7',
      '7 ',
      '07',
      '',
      '2147483648',
      '99999999999999999999',
      '١٢٣',
      null,
      true,
      [1],
    ]) {
      expect(id.safeParse(value).success, JSON.stringify(value)).toBe(false)
    }
  })

  it('takes a larger bound for bigint columns, but not past 2^53', () => {
    expect(integerId({ max: Number.MAX_SAFE_INTEGER }).parse('2147483648')).toBe(2_147_483_648)
    expect(() => integerId({ max: 2 ** 53 })).toThrow(RangeError)
  })
})
