import { timingSafeEqual } from 'node:crypto'
import type { CsrfRejection } from '../errors.js'
import type { CsrfOptions } from './csrf-options.js'

/** What the guard reads from a request: its method and headers. */
export interface CsrfRequest {
  readonly method: string
  header(name: string): string | undefined
}

/**
 * The guard's answer: `pass`, a rejection reason, or `form-token` when only a form field could
 * still prove the request (no Origin, no Sec-Fetch-Site, no token header, a form body).
 */
export type CsrfVerdict = 'pass' | 'form-token' | { readonly reject: CsrfRejection }

/** {@link CsrfOptions} with the defaults filled. */
export interface ResolvedCsrfOptions {
  readonly trustedOrigins: ReadonlySet<string>
  readonly headerName: string
  readonly fieldName: string
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']

/** Fills the defaults of {@link CsrfOptions}, normalising each trusted origin. */
export function resolveCsrfOptions(options: CsrfOptions = {}): ResolvedCsrfOptions {
  const trustedOrigins = new Set<string>()
  for (const origin of options.trustedOrigins ?? []) {
    const normalised = originOf(origin)
    if (normalised === undefined) {
      throw new TypeError(
        `csrf.trustedOrigins: '${origin}' is not an origin; write it as scheme://host[:port].`,
      )
    }
    trustedOrigins.add(normalised)
  }
  return {
    trustedOrigins,
    headerName: (options.headerName ?? 'x-csrf-token').toLowerCase(),
    fieldName: options.fieldName ?? '_csrf',
  }
}

/** True for the methods a CSRF guard lets through: GET, HEAD, OPTIONS, TRACE. */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase())
}

/**
 * Decides whether a cookie-authenticated request may proceed. Fetch metadata first
 * (`Sec-Fetch-Site`), then `Origin` against the request's own host and the trusted origins, then
 * the synchronizer token in the token header, for clients that send neither.
 */
export function checkCsrf(
  request: CsrfRequest,
  expectedToken: string,
  options: ResolvedCsrfOptions,
): CsrfVerdict {
  if (isSafeMethod(request.method)) return 'pass'
  const origin = request.header('origin')
  const site = request.header('sec-fetch-site')
  if (site !== undefined) {
    // `none` is a navigation the user started (a bookmark, the address bar), never a page's.
    if (site === 'same-origin' || site === 'none') return 'pass'
    if (origin !== undefined && isTrusted(origin, options)) return 'pass'
    return { reject: 'cross-site' }
  }
  if (origin !== undefined) {
    if (isSameOrigin(origin, request.header('host')) || isTrusted(origin, options)) return 'pass'
    return { reject: 'untrusted-origin' }
  }
  const token = request.header(options.headerName)
  if (token !== undefined)
    return tokensMatch(token, expectedToken) ? 'pass' : { reject: 'bad-token' }
  const type = request.header('content-type')?.split(';')[0]?.trim().toLowerCase()
  if (type !== undefined && FORM_TYPES.includes(type)) return 'form-token'
  return { reject: 'missing-token' }
}

/** Compares a presented token with the session's in constant time. */
export function tokensMatch(presented: unknown, expected: string): boolean {
  if (typeof presented !== 'string') return false
  const a = Buffer.from(presented)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

function isTrusted(origin: string, options: ResolvedCsrfOptions): boolean {
  const normalised = originOf(origin)
  return normalised !== undefined && options.trustedOrigins.has(normalised)
}

function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false
  try {
    const url = new URL(origin)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return false
    // Parsed the same way, so `Host: shop.example:443` matches `Origin: https://shop.example`.
    return url.host === new URL(`${url.protocol}//${host}`).host
  } catch {
    return false
  }
}

function originOf(value: string): string | undefined {
  // `null` (a sandboxed frame, a redirect chain) parses to nothing and is never trusted.
  try {
    const url = new URL(value)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
    return url.origin
  } catch {
    return undefined
  }
}
