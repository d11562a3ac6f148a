// The password of `scheme://user:password@host` runs from the first ':' after the user to the
// last '@' of the string that holds the URL. Nothing inside a password ends it: not a space, a
// quote, a newline, a '/', '?', '#', ':' or '@' (pasted unencoded, they make an invalid URL,
// which is when an error quotes it), nor an escape. So the censor takes the whole run up to the
// string's last '@': a URL followed by an '@' further on (an e-mail address, a scoped package in
// a stack) is censored past its host, never short. `//`, ':' and '@' count however they are
// written: raw, percent-encoded (a URL in a query string), or escaped at any depth of JSON or JS
// (`\/`, `\u0040`, a URL in JSON in a message). The scheme is not needed (`//user:pw@host`).

// What a unit of text (a character, or an escape standing for one) may be in a URL. A `SLASH` is
// a raw '/', or one after backslashes (`\/`): it ends a user. An `ENCODED_SLASH` (`%2f`,
// `\u002f`, `\x2f`) makes a `//` but may stand for itself inside a user (`a%2fb`), as an
// encoded ':' or '@' may too, but those end a user, which censors more. A `STOP` is a raw '?'
// or '#', which end a user.
const OTHER = 0
const SLASH = 1
const ENCODED_SLASH = 2
const COLON = 3
const AT = 4
const STOP = 5
const ENCODED: Readonly<Record<string, number>> = { '2f': ENCODED_SLASH, '3a': COLON, '40': AT }
const CENSORED = '[redacted]'
// No URL with credentials without some form of '@' and of '/'.
const MAY_HOLD_AT = /@|%40|\\+(?:u0040|x40)/i
const MAY_HOLD_SLASH = /\/|%2f|\\+(?:u002f|x2f)/i

/**
 * `text` with the password of every URL with credentials in it censored, wherever it is in the
 * text and whatever characters it holds.
 */
export function withoutUrlPasswords(text: string): string {
  if (!MAY_HOLD_AT.test(text) || !MAY_HOLD_SLASH.test(text)) return text
  const region = passwordRegion(text, 0, text.length)
  return region === undefined ? text : censor(text, [region])
}

/**
 * `line`, a JSON text (a log line), with the password of every URL with credentials censored
 * in each of its strings. A password never runs from one string of the line into the next (a
 * string ends at its unescaped closing quote), so the line stays the JSON it was.
 */
export function jsonWithoutUrlPasswords(line: string): string {
  if (!MAY_HOLD_AT.test(line)) return line
  const regions: [number, number][] = []
  let at = line.indexOf('"')
  while (at !== -1) {
    const end = closingQuote(line, at + 1)
    const text = line.slice(at + 1, end)
    if (MAY_HOLD_AT.test(text) && MAY_HOLD_SLASH.test(text)) {
      const region = passwordRegion(line, at + 1, end)
      if (region !== undefined) regions.push(region)
    }
    at = line.indexOf('"', end + 1)
  }
  return regions.length === 0 ? line : censor(line, regions)
}

function censor(text: string, regions: readonly [number, number][]): string {
  let out = ''
  let from = 0
  for (const [start, end] of regions) {
    out += `${text.slice(from, start)}${CENSORED}`
    from = end
  }
  return out + text.slice(from)
}

/** The index of the quote that closes the JSON string starting at `from`. */
function closingQuote(line: string, from: number): number {
  for (let i = from; i < line.length; i++) {
    if (line[i] === '\\') i++
    else if (line[i] === '"') return i
  }
  return line.length
}

/**
 * Where the password of the first URL with credentials in `text[from, to)` is, up to the last
 * '@' of that range (so no later URL's password is left either), or undefined when there is
 * none. One pass over the units of the range: a `//`, a user, a ':', then every '@'.
 */
function passwordRegion(text: string, from: number, to: number): [number, number] | undefined {
  let state: 'slashes' | 'user' | 'password' = 'slashes'
  let afterSlash = false
  let passwordStart = -1
  let lastAt = -1
  for (let i = from; i < to; ) {
    const unit = readUnit(text, i, to)
    const role = unit % 8
    const start = i
    i = (unit - role) / 8
    if (state === 'password') {
      if (role === AT) lastAt = start
    } else if (state === 'user') {
      if (role === COLON) {
        state = 'password'
        passwordStart = i
      } else if (role === SLASH && !afterSlash) {
        // A path: this '/' may start the next '//'.
        state = 'slashes'
        afterSlash = true
      } else if (role === STOP) {
        state = 'slashes'
        afterSlash = false
      } else {
        // A '/' right after the `//` makes a `//` of its own (`http:///user:pw@host`).
        afterSlash = role === SLASH
      }
    } else if (role !== SLASH && role !== ENCODED_SLASH) {
      afterSlash = false
    } else if (!afterSlash) {
      afterSlash = true
    } else if (isFileRoot(text, start, to)) {
      // `file:///C:/app/x.js`: a file URL has no credentials (a Windows path in a stack).
      while (i < to && text[i] === '/') i++
      afterSlash = false
    } else {
      state = 'user'
      afterSlash = true
    }
  }
  return lastAt === -1 ? undefined : [passwordStart, lastAt]
}

/**
 * The unit of `text` at `i`, a character or an escape standing for one (`%40`, `\u0040`,
 * `\\\/`), as `end * 8 + role`. A backslash run stays whole, so a cut between units never
 * splits one of a JSON line's own escapes; a ':' or '@' after a run is read on its own, as it
 * is one either way (raw, or a JS identity escape of itself).
 */
function readUnit(text: string, i: number, to: number): number {
  switch (text[i]) {
    case '/':
      return (i + 1) * 8 + SLASH
    case ':':
      return (i + 1) * 8 + COLON
    case '@':
      return (i + 1) * 8 + AT
    case '?':
    case '#':
      return (i + 1) * 8 + STOP
    case '%': {
      const role = i + 2 < to ? ENCODED[text.slice(i + 1, i + 3).toLowerCase()] : undefined
      return role === undefined ? (i + 1) * 8 + OTHER : (i + 3) * 8 + role
    }
    case '\\': {
      let j = i + 1
      while (j < to && text[j] === '\\') j++
      if (j < to && text[j] === '/') return (j + 1) * 8 + SLASH
      const hex =
        text[j] === 'u' && text[j + 1] === '0' && text[j + 2] === '0'
          ? j + 3
          : text[j] === 'x'
            ? j + 1
            : -1
      const role =
        hex !== -1 && hex + 1 < to ? ENCODED[text.slice(hex, hex + 2).toLowerCase()] : undefined
      return role === undefined ? j * 8 + OTHER : (hex + 2) * 8 + role
    }
    default:
      return (i + 1) * 8 + OTHER
  }
}

/** Whether the `//` ending at `second` is that of `file:///`. */
function isFileRoot(text: string, second: number, to: number): boolean {
  return (
    second + 1 < to &&
    text[second] === '/' &&
    text[second - 1] === '/' &&
    text[second + 1] === '/' &&
    text.slice(second - 6, second - 1).toLowerCase() === 'file:'
  )
}
