// Field names whose value is a secret, compared without case, '-' or '_': `apiKey`, `api_key`,
// `X-Api-Key` and `API_KEY` are one name. A name is secret when it ends in a secret's word or
// its plural, so an app's own `client_secret`, `signingKey` or `DB_PASSWORD` is one without
// being listed, while `tokenCount`, `keyId` or `secretary` is not. Any name ending in `key` is
// one (`hmacKey`, `encryptionKey`, a bare `key`), but for the few kinds of key that name a
// thing, not a secret (`publicKey`, `idempotencyKey`, `cacheKey`): a word outside that list
// (`monkey`) is censored needlessly, never a secret written. pino's redaction paths reach two
// levels and one spelling; a request body's `user.password`, an error's `config.apiKey` or a raw
// `Authorization` header sit deeper or are spelled otherwise.
const SECRET_NAME =
  /(?:pass(?:word|wd|phrase)|pwd|secret|token|key|credential|authorization|cookie|creditcard|cardnumber|cvv)s?$/
const NAMING_KEY =
  /(?:public|primary|foreign|idempotency|cache|sort|partition|routing|dedup|dedupe|deduplication|lookup)keys?$/
// A number under a plural name counts secrets (`inputTokens: 12`, `keys: 3`); a collection of
// secrets is never one number, while a secret may be (`cvv: 123` is singular).
const COUNT = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/
const MAY_HOLD = /pass|pwd|secret|token|key|credential|authorization|cookie|card|cvv/i
const CENSORED = '"[redacted]"'

/** Whether a field of this name holds a secret. */
export function isSecretName(name: string): boolean {
  return secretName(normalised(name))
}

// What may follow a secret's word and leave it a secret: a number or version (`password2`,
// `token_v2`), a second entry (`password_confirmation`), a hash (`password_digest`, cracked
// offline), an encoding (`privateKeyPem`, `secret_key_base`) or an age (`PASSWORD_OLD`).
const QUALIFIER =
  /(?:v?\d+|confirm(?:ation)?|again|repeat(?:ed)?|verify|verification|hash(?:ed)?|digest|plain(?:text)?|raw|value|base|pem|der|hex|b64|base64|bytes|enc(?:rypted)?|old|new|current|prev(?:ious)?)$/

function secretName(normalisedName: string): boolean {
  let name = normalisedName
  // A qualifier or two: `password_confirmation2`, `api_key_hash_v2`.
  for (let strip = 0; strip < 3; strip++) {
    if (SECRET_NAME.test(name)) return !NAMING_KEY.test(name)
    const stem = name.replace(QUALIFIER, '')
    if (stem === name || stem === '') return false
    name = stem
  }
  return false
}

/** Whether `value`, under the secret name `normalisedName`, is a count of secrets. */
function isCount(normalisedName: string, value: string): boolean {
  return (
    normalisedName.endsWith('s') && secretName(normalisedName.slice(0, -1)) && COUNT.test(value)
  )
}

function normalised(name: string): string {
  return name.replace(/[-_]/g, '').toLowerCase()
}

/**
 * `line`, a JSON text (a log line), with the value of every field named as a secret (see
 * {@link isSecretName}) replaced by `"[redacted]"`, at any depth: in the logged object, a
 * child's bindings, an error's own fields and causes. Inside every other string of the line, a
 * secret written as text is censored too (see {@link withoutSecretPairs}).
 */
export function jsonWithoutSecretFields(line: string): string {
  if (!MAY_HOLD.test(line)) return line
  let out = ''
  let from = 0
  let i = 0
  while (i < line.length) {
    if (line[i] !== '"') {
      i++
      continue
    }
    const end = stringEnd(line, i)
    let colon = end
    while (line[colon] === ' ') colon++
    const literal = line.slice(i, end)
    if (!MAY_HOLD.test(literal)) {
      i = end
      continue
    }
    const text = JSON.parse(literal) as string
    if (line[colon] !== ':' || !isSecretName(text)) {
      const censored = withoutSecretPairs(text)
      if (censored !== text) {
        out += line.slice(from, i) + JSON.stringify(censored)
        from = end
      }
      i = end
      continue
    }
    let value = colon + 1
    while (line[value] === ' ') value++
    const after = valueEnd(line, value)
    const current = line.slice(value, after)
    if (current !== CENSORED && current !== '"[secret]"' && !isCount(normalised(text), current)) {
      out += line.slice(from, value) + CENSORED
      from = after
    }
    i = after
  }
  return from === 0 ? line : out + line.slice(from)
}

/** The index just past the JSON string starting at `start` (its opening quote). */
function stringEnd(line: string, start: number): number {
  for (let i = start + 1; i < line.length; i++) {
    if (line[i] === '\\') i++
    else if (line[i] === '"') return i + 1
  }
  return line.length
}

/** The index just past the JSON value starting at `start`. */
function valueEnd(line: string, start: number): number {
  const first = line[start]
  if (first === '"') return stringEnd(line, start)
  if (first !== '{' && first !== '[') {
    let i = start
    while (i < line.length && !/[,}\]\s]/.test(line[i] as string)) i++
    return i
  }
  let depth = 0
  for (let i = start; i < line.length; i++) {
    const c = line[i]
    if (c === '"') i = stringEnd(line, i) - 1
    else if (c === '{' || c === '[') depth++
    else if (c === '}' || c === ']') {
      depth--
      if (depth === 0) return i + 1
    }
  }
  return line.length
}

// A name not inside a longer one, an optional closing quote (JSON in a string, escaped at any
// depth) or bracket (`user[password]=`), then '=' or ':'.
const PAIR = /(?<![\w-])([\w-]+)(\\*["'])?\]?[ \t]*([:=])[ \t]*/g
// Where an unquoted value ends: a space, a query string's '&', a quote (escaped or not).
// Anything else (',', ';', '}') is taken as part of it: the censor may take more than the
// secret, never less.
const UNQUOTED_END = /[\s&"']|\\+["']/g
// A cookie runs to the end of its line: `Cookie: a=1; b=2`.
const LINE_END = /[\r\n"]|\\+"/g
// An authorization may be `Bearer abc`: a first word followed by a space and more text is taken
// with the word after it, so a scheme's credentials go too.
const TWO_WORDS = /[\w-]+ +(?:(?!\\+["'])[^\s&"'])+/y
// The same after any secret's name, for the schemes of HTTP authentication (`token: Bearer
// abc1`), unless a short word of letters follows (`password: basic auth failed` is prose).
const SCHEME =
  /(?:basic|bearer|digest|dpop|negotiate|ntlm|token) +(?![A-Za-z]{1,15}(?![^\s&"']))(?:(?!\\+["'])[^\s&"'])+/iy
const QUOTE = /\\*["']/y
// After a bare `name:`, a short word of letters is prose, not a secret: `password: must be at
// least 12 characters`, `API_KEY: is missing`. A secret has a digit, a symbol or length.
const PROSE_WORD = /[A-Za-z]{1,15}(?![^\s&"'])/y
// Header names: `Authorization: Bearer abc` is a header, whatever follows the ':'.
const HEADERS = new Set(['authorization', 'proxyauthorization', 'cookie', 'setcookie', 'xapikey'])

/**
 * `text` with the value of every secret written as text censored: `password=hunter2`,
 * `?token=abc&api_key=xyz`, `Authorization: Bearer abc`, `{"password":"hunter2"}`, for every
 * secret name (see {@link isSecretName}). A quoted value is censored to its closing quote, a
 * cookie to the end of its line, any other to the next space, '&' or quote. Text without such a name
 * followed by '=' or ':' comes out as it went in, and so does a label in prose: after a bare
 * `password:` (not a header's name), a short word of letters is taken for the text it is. A PEM
 * private key is censored whole wherever it is, named or not (its text holds spaces and
 * newlines, which would end the value of `private_key: -----BEGIN…`).
 */
export function withoutSecretPairs(text: string): string {
  if (!MAY_HOLD.test(text)) return text
  return withoutPairs(text.replace(PEM_PRIVATE_KEY, '[redacted]'))
}

// To its END line, or to the end of the text when cut short.
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----[\s\S]*?(?:-----END \1-----|$)/g

function withoutPairs(text: string): string {
  let out = ''
  let from = 0
  PAIR.lastIndex = 0
  for (let match = PAIR.exec(text); match !== null; match = PAIR.exec(text)) {
    const name = normalised(match[1] as string)
    if (!secretName(name)) {
      // The name may be a value of its own (`a=token=x`): look again right after it.
      PAIR.lastIndex = match.index + (match[1] as string).length
      continue
    }
    const labelled = match[3] === ':' && match[2] === undefined && !HEADERS.has(name)
    PROSE_WORD.lastIndex = PAIR.lastIndex
    SCHEME.lastIndex = PAIR.lastIndex
    const [start, end] = SCHEME.test(text)
      ? [PAIR.lastIndex, SCHEME.lastIndex]
      : labelled && PROSE_WORD.test(text)
        ? [PAIR.lastIndex, PAIR.lastIndex]
        : valueRegion(text, PAIR.lastIndex, name)
    // A count's unquoted value ends at a space: `inputTokens=12, cached=3` takes `12,`.
    if (end > start && !isCount(name, text.slice(start, end).replace(/[,;.)}\]]+$/, ''))) {
      out += `${text.slice(from, start)}[redacted]`
      from = end
    }
    PAIR.lastIndex = Math.max(end, PAIR.lastIndex)
  }
  return from === 0 ? text : out + text.slice(from)
}

/** Where the value that starts at `at` (after a secret name and its '=' or ':') is. */
function valueRegion(text: string, at: number, name: string): [number, number] {
  QUOTE.lastIndex = at
  const quote = QUOTE.exec(text)?.[0]
  if (quote !== undefined) {
    const start = at + quote.length
    const close = quote.length === 1 ? closing(text, start, quote) : text.indexOf(quote, start)
    return [start, close === -1 ? text.length : close]
  }
  if (/authorizations?$/.test(name)) {
    TWO_WORDS.lastIndex = at
    if (TWO_WORDS.test(text)) return [at, TWO_WORDS.lastIndex]
  }
  const end = /cookies?$/.test(name) ? LINE_END : UNQUOTED_END
  end.lastIndex = at
  return [at, end.exec(text)?.index ?? text.length]
}

/** The index of the unescaped `quote` that closes a value starting at `from`, or -1. */
function closing(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (text[i] === quote) return i
  }
  return -1
}
