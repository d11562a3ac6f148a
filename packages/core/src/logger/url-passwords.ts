// `scheme://user:password@`: the password is everything between the first ':' of the userinfo
// and the last '@' of the text's run (to a space or a quote). A password pasted unencoded may
// hold '@', '/', '?', '#' or ':' (base64 ones hold '/'), and then the URL is invalid, which is
// when an error quotes it; a run with an '@' further on is censored past its host, never short.
const URL_PASSWORD = /\b([a-z][a-z\d+.-]*:\/\/[^\s:/?#@"]*):[^\s"]*@/gi

/**
 * `value` with the password of every URL in its texts (nested, a few levels down) censored.
 * Objects are copied as JSON writes them (own enumerable fields), every field kept: a copy has
 * no prototype, so a `__proto__` field (JSON.parse makes one from a request body) stays data,
 * where assigning it would set the copy's prototype and drop the field from the line. Errors
 * (the `err` serializer writes them) and values with a `toJSON` (a `Secret`, a Date) are left
 * as they are.
 */
export function withoutUrlPasswords<T>(value: T, depth = 0): T {
  if (typeof value === 'string') {
    return (value.includes('://') ? value.replace(URL_PASSWORD, '$1:[redacted]@') : value) as T
  }
  if (depth > 4 || typeof value !== 'object' || value === null) return value
  if (value instanceof Error || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return value
  }
  if (Array.isArray(value)) return value.map((item) => withoutUrlPasswords(item, depth + 1)) as T
  const copy: Record<string, unknown> = Object.create(null)
  for (const [key, item] of Object.entries(value)) copy[key] = withoutUrlPasswords(item, depth + 1)
  return copy as T
}
