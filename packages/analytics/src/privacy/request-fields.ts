import { isIPv4, isIPv6 } from 'node:net'
import type { RequestContext } from '@mortar/core'
import { storable } from '../storage/storable-text.js'

/**
 * Finds the country of a request, for the events' `country` column: from a GeoIP database you
 * ship (MaxMind's reader, say) or from the header your CDN sets. Return an ISO 3166-1 alpha-2
 * code; anything else is stored as no country. It runs inside `track()`, so it must be quick
 * and synchronous. `ip` is the full address: it is not stored.
 *
 * @example
 * ```ts
 * import { analyticsModule } from '@mortar/analytics'
 *
 * // Behind Cloudflare, which sets CF-IPCountry on every request it forwards.
 * analyticsModule({ events, country: (_ip, context) => context.http?.header('cf-ipcountry') })
 * ```
 */
export type CountryLookup = (ip: string, context: RequestContext) => string | undefined

const MAX_USER_AGENT = 512
// Two letters, or a letter and a digit: CDNs send `T1` for Tor and `XX` for unknown.
const COUNTRY = /^[A-Z][A-Z0-9]$/

/**
 * The address with its host part zeroed: IPv4 to its /24 (`203.0.113.0`), IPv6 to its /48
 * (`2001:db8:85a3::`), an IPv4-mapped IPv6 address as IPv4. `null` for what is not an address.
 */
export function truncateIp(ip: string): string | null {
  const mapped = ip.toLowerCase().startsWith('::ffff:') ? ip.slice(7) : ip
  if (isIPv4(mapped)) {
    const [a, b, c] = mapped.split('.')
    return `${a}.${b}.${c}.0`
  }
  const bare = ip.split('%')[0] as string
  if (!isIPv6(bare)) return null
  // Groups before `::` come first; `::` stands for one or more zero groups after them.
  const head = bare.split('::')[0] as string
  const groups = head === '' ? [] : head.split(':')
  while (groups.length < 3) groups.push('0')
  return `${groups
    .slice(0, 3)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::`
}

/** The user agent as stored: at most 512 characters, U+0000 and unpaired surrogates replaced. */
export function storedUserAgent(userAgent: string | undefined): string | null {
  return userAgent === undefined || userAgent === ''
    ? null
    : storable(userAgent.slice(0, MAX_USER_AGENT))
}

/** A lookup's answer as stored: an upper-case two-character code, else `null`. */
export function storedCountry(country: string | undefined): string | null {
  if (typeof country !== 'string') return null
  const code = country.trim().toUpperCase()
  return COUNTRY.test(code) ? code : null
}
