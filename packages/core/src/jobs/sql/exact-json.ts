// Where a JSON number may have more significant digits than a double holds: a run of 16 digits
// (points between them allowed) at the start of a number. A number starts the text or follows
// `:`, `,` or `[` (whitespace between allowed), so a run inside a string or a UUID starts no
// match: scanning only those places costs a carried row of a few hundred characters a quarter
// of looking for the run anywhere. A string that holds such a sequence only takes the exact
// path below, which finds nothing to round.
const LONG_NUMBER = /(?:^|[:,[])\s*-?\d[\d.]{15}/

/** `text` parsed, or `undefined` when a number in it would not come out exactly as written. */
export function exactJson(text: string | null): unknown {
  if (text === null || !LONG_NUMBER.test(text)) return text === null ? null : JSON.parse(text)
  let exact = true
  const value: unknown = JSON.parse(
    text,
    (_key: string, parsed: unknown, context?: { readonly source?: string }) => {
      if (typeof parsed === 'number' && decimal(context?.source ?? '') !== decimal(String(parsed)))
        exact = false
      return parsed
    },
  )
  return exact ? value : undefined
}

/** A numeral as its sign, significant digits and the power of ten of the first: `1.50` = `15e0`. */
function decimal(numeral: string): string {
  const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(numeral)
  if (match === null) return `not a numeral: ${numeral}`
  const [, sign, whole = '', fraction = '', exponent = '0'] = match
  const digits = whole + fraction
  const first = digits.search(/[1-9]/)
  if (first === -1) return '0'
  return `${sign}${digits.slice(first).replace(/0+$/, '')}e${Number(exponent) + whole.length - first - 1}`
}
