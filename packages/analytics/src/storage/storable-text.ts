// What every engine stores as given. PostgreSQL refuses U+0000 in text and jsonb, and jsonb an
// unpaired surrogate; one such value would fail the whole batch it is written in.

// U+0000, or a surrogate without its other half (matched by code unit: no `u` flag).
const UNSTORABLE = /\0|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g')

/** Text with no U+0000 and no unpaired surrogate. */
export function isStorable(text: string): boolean {
  return !UNSTORABLE.test(text)
}

/** `text` with U+0000 and unpaired surrogates replaced by U+FFFD. */
export function storable(text: string): string {
  return isStorable(text) ? text : text.replace(UNSTORABLE_ALL, '\uFFFD')
}

// JSON.stringify writes U+0000 and unpaired surrogates as \u escapes; an escape counts when an
// even number of backslashes (escaped ones) comes before it.
const UNSTORABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/

/** Whether JSON (as JSON.stringify writes it) is free of what PostgreSQL's jsonb refuses. */
export function isStorableJson(json: string): boolean {
  return !json.includes('\\u') || !UNSTORABLE_ESCAPE.test(json)
}

/**
 * The first `max` characters (code points) of `text`, as SQL's `substr(text, 1, max)` and a
 * `varchar(max)` count them: a cut by UTF-16 unit could split a pair into an unpaired surrogate.
 */
export function firstChars(text: string, max: number): string {
  if (text.length <= max) return text
  let units = 0
  for (let chars = 0; chars < max && units < text.length; chars++) {
    const code = text.charCodeAt(units)
    const pair =
      code >= 0xd800 && code <= 0xdbff && (text.charCodeAt(units + 1) & 0xfc00) === 0xdc00
    units += pair ? 2 : 1
  }
  return text.slice(0, units)
}

/**
 * Whether an id or name column of `max` characters holds `text` as given: at most `max`
 * characters and nothing PostgreSQL refuses. What does not fit is never cut or replaced to make
 * it fit: two ids cut or replaced alike were one person to `forgetUser`.
 */
export function fitsColumn(text: string, max: number): boolean {
  return (text.length <= max || firstChars(text, max) === text) && isStorable(text)
}

/**
 * `text` as a JSON string, which every engine stores and compares as given: JSON escapes U+0000
 * and unpaired surrogates, and the same text always gives the same JSON.
 */
export function wholeText(text: string): string {
  return JSON.stringify(text)
}
