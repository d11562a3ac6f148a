import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CopyRows } from './postgres-copy.js'

// COPY's text format as the manual states it: a backslash, tab, newline or carriage return in a
// value is escaped; `\N` is null; values are separated by tabs, rows end with a newline.
const escaped = (value: string) =>
  value.replace(
    /[\\\t\n\r]/g,
    (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c] as string,
  )

describe('CopyRows', () => {
  it('writes any text as its escaped UTF-8, tabs between values and a newline after each row', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.array(
            fc.oneof(
              fc.string({ unit: 'binary' }),
              fc.string({
                unit: fc.constantFrom('\\', '\t', '\n', '\r', 'N', 'é', '\ud83c', '\udf75'),
              }),
              fc.constant(null),
              fc.maxSafeInteger(),
              // Where the high and low eight digits meet.
              fc.constantFrom(99_999_999, 100_000_000, 100_000_001, -100_000_000, 10 ** 15 + 7),
            ),
            { minLength: 1, maxLength: 6 },
          ),
          { maxLength: 5 },
        ),
        (rows) => {
          // Room for little, so growing is exercised too.
          const copy = new CopyRows(0)
          let expected = ''
          for (const row of rows) {
            for (const value of row) {
              if (typeof value === 'number') copy.integer(value)
              else copy.text(value)
            }
            copy.end()
            expected += `${row.map((v) => (v === null ? '\\N' : typeof v === 'number' ? String(v) : escaped(v))).join('\t')}\n`
          }
          // Buffer.from writes an unpaired surrogate as U+FFFD, as CopyRows must.
          expect(copy.finish().equals(Buffer.from(expected, 'utf8'))).toBe(true)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('refuses a number that is not a safe integer', () => {
    expect(() => new CopyRows(0).integer(1.5)).toThrow(TypeError)
  })
})
