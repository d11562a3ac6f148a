import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { exactJson } from './exact-json.js'

/** A numeral as its sign, digits without trailing zeros and their power of ten: `1.50` = `15e-1`. */
function canonical(numeral: string): string {
  const [mantissa = '', exponent = '0'] = numeral.toLowerCase().split('e')
  const negative = mantissa.startsWith('-')
  const [whole = '', fraction = ''] = mantissa.replace('-', '').split('.')
  let digits = (whole + fraction).replace(/^0+/, '')
  let power = Number(exponent) - fraction.length
  if (digits === '') return '0'
  while (digits.endsWith('0')) {
    digits = digits.slice(0, -1)
    power += 1
  }
  return `${negative ? '-' : ''}${digits}e${power}`
}

/** What exactJson must answer, found the slow way: every number's text checked. */
function checkedEveryNumber(text: string): unknown {
  let exact = true
  const value: unknown = JSON.parse(
    text,
    (_key, parsed: unknown, context?: { source?: string }) => {
      if (
        typeof parsed === 'number' &&
        canonical(context?.source ?? '') !== canonical(String(parsed))
      ) {
        exact = false
      }
      return parsed
    },
  )
  return exact ? value : undefined
}

const space = fc.constantFrom('', ' ', '\n', '\t', '  ')
const numeral = fc
  .tuple(
    fc.constantFrom('', '-'),
    fc.oneof(fc.constant('0'), fc.stringMatching(/^[1-9]\d{0,24}$/)),
    fc.option(fc.stringMatching(/^\d{1,24}$/), { nil: undefined }),
    fc.option(fc.integer({ min: -20, max: 20 }), { nil: undefined }),
  )
  .map(
    ([sign, whole, fraction, exponent]) =>
      `${sign}${whole}${fraction === undefined ? '' : `.${fraction}`}${exponent === undefined ? '' : `e${exponent}`}`,
  )
// Strings that look like what the check scans for: digit runs, separators, UUID-like text.
const text = fc
  .oneof(fc.string(), fc.stringMatching(/^[\d.:,[\] a-f-]{0,40}$/))
  .map((value) => JSON.stringify(value))
const { json } = fc.letrec<{ json: string }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    numeral,
    text,
    fc.constantFrom('true', 'false', 'null'),
    fc
      .array(fc.tuple(space, tie('json'), space), { maxLength: 5 })
      .map((items) => `[${items.map((item) => item.join('')).join(',')}]`),
    fc
      .array(fc.tuple(text, space, tie('json'), space), { maxLength: 5 })
      .map(
        (entries) =>
          `{${entries.map(([key, before, value, after]) => `${key}:${before}${value}${after}`).join(',')}}`,
      ),
  ),
}))

describe('exactJson', () => {
  it('parses JSON text, or answers undefined when a number in it would not come out as written', () => {
    fc.assert(
      fc.property(space, json, space, (before, value, after) => {
        const given = `${before}${value}${after}`
        expect(exactJson(given)).toEqual(checkedEveryNumber(given))
      }),
      { numRuns: 2_000 },
    )
  })

  it('finds a long number wherever one may stand', () => {
    const long = '9007199254740993'
    for (const given of [long, `[1, ${long}]`, `{"a":\n${long}}`, `[\t-${long}.5]`]) {
      expect(exactJson(given)).toBeUndefined()
    }
    expect(exactJson(`{"a":"${long}"}`)).toEqual({ a: long })
    expect(exactJson(null)).toBeNull()
  })
})
