import { decimalOf } from '../../validation/decimal-text.js'

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
      if (
        typeof parsed === 'number' &&
        decimalOf(context?.source ?? '') !== decimalOf(String(parsed))
      )
        exact = false
      return parsed
    },
  )
  return exact ? value : undefined
}
