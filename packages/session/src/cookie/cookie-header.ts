/** Attributes of a `Set-Cookie` header, as the session writes them. */
export interface SetCookieAttributes {
  readonly maxAge: number
  readonly path: string
  readonly domain?: string | undefined
  readonly sameSite: 'lax' | 'strict' | 'none'
  readonly secure: boolean
  readonly httpOnly: boolean
}

/**
 * Every distinct value of cookie `name` in a `Cookie` request header, in the order sent (the
 * browser sends the most specific path first). A name repeats when cookies of one name were set
 * with different paths or domains, by this app or by another host for a parent domain.
 */
export function readCookies(header: string | undefined, name: string): string[] {
  const values = new Set<string>()
  if (header === undefined || header === '') return []
  // A plain scan: no regex built from the cookie name, and no object keyed by attacker input.
  for (const part of header.split(';')) {
    const equals = part.indexOf('=')
    if (equals === -1) continue
    if (part.slice(0, equals).trim() !== name) continue
    let value = part.slice(equals + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"'))
      value = value.slice(1, -1)
    values.add(value)
  }
  return [...values]
}

/** A `Set-Cookie` header value. `name` and `value` must already be cookie-safe (seals are). */
export function serializeCookie(
  name: string,
  value: string,
  attributes: SetCookieAttributes,
): string {
  let cookie = `${name}=${value}; Max-Age=${Math.max(0, Math.floor(attributes.maxAge))}; Path=${attributes.path}`
  if (attributes.domain !== undefined) cookie += `; Domain=${attributes.domain}`
  if (attributes.maxAge <= 0) cookie += '; Expires=Thu, 01 Jan 1970 00:00:00 GMT'
  if (attributes.httpOnly) cookie += '; HttpOnly'
  if (attributes.secure) cookie += '; Secure'
  cookie += `; SameSite=${attributes.sameSite === 'lax' ? 'Lax' : attributes.sameSite === 'strict' ? 'Strict' : 'None'}`
  return cookie
}

/** The bytes a browser counts against its 4096-byte limit: `name=value`. */
export function cookieBytes(name: string, value: string): number {
  return Buffer.byteLength(name) + 1 + Buffer.byteLength(value)
}

/** The limit browsers keep for one cookie's `name=value` (RFC 6265 §6.1 asks for at least this). */
export const COOKIE_LIMIT_BYTES = 4096
