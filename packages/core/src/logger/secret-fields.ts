// Field names whose value is a secret, compared without case, '-' or '_': `apiKey`, `api_key`,
// `X-Api-Key` and `API_KEY` are one name. pino's redaction paths reach two levels and one
// spelling; a request body's `user.password`, an error's `config.apiKey` or a raw
// `Authorization` header sit deeper or are spelled otherwise.
const SECRET_NAMES = new Set([
  'password',
  'passwd',
  'secret',
  'token',
  'accesstoken',
  'refreshtoken',
  'apikey',
  'xapikey',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'creditcard',
  'cardnumber',
  'cvv',
])
const MAY_HOLD = /pass|secret|token|api.?key|authorization|cookie|card|cvv/i
const CENSORED = '"[redacted]"'

/** Whether a field of this name holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAMES.has(name.replace(/[-_]/g, '').toLowerCase())
}

/**
 * `line`, a JSON text (a log line), with the value of every field named as a secret (see
 * {@link isSecretName}) replaced by `"[redacted]"`, at any depth: in the logged object, a
 * child's bindings, an error's own fields and causes.
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
    if (
      line[colon] !== ':' ||
      !MAY_HOLD.test(line.slice(i + 1, end - 1)) ||
      !isSecretName(JSON.parse(line.slice(i, end)) as string)
    ) {
      i = end
      continue
    }
    let value = colon + 1
    while (line[value] === ' ') value++
    const after = valueEnd(line, value)
    const current = line.slice(value, after)
    if (current !== CENSORED && current !== '"[secret]"') {
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
