import { timingSafeEqual } from 'node:crypto'
import type { CsrfRejection } from '../errors.js'
import type { CsrfOptions } from './csrf-options.js'

/** What the guard reads from a request: its method and headers. */
export interface CsrfRequest {
  readonly method: string
  /** The request target (path and query), where a `_method` override may sit. */
  readonly url?: string
  header(name: string): string | undefined
}

/**
 * The guard's answer: `pass`, a rejection reason, or `form-token` when only a form field could
 * still prove the request (no Origin, no Sec-Fetch-Site, no token header, a form body, and the
 * app accepts form tokens).
 */
export type CsrfVerdict = 'pass' | 'form-token' | { readonly reject: CsrfRejection }

/** {@link CsrfOptions} with the defaults filled. */
export interface ResolvedCsrfOptions {
  readonly trustedOrigins: ReadonlySet<string>
  readonly headerName: string
  /** The form field that may carry the token; undefined when form tokens are off. */
  readonly formField: string | undefined
  /**
   * The session cookie is `Secure`, so the app is served over https: an `http:` page on the
   * same host (what a network attacker can serve) is not the app's own origin.
   */
  readonly httpsOnly: boolean
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
// The encodings an HTML form can send, so the ones a forged cross-site form can use.
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']

/**
 * Fills the defaults of {@link CsrfOptions}, normalising each trusted origin; `httpsOnly` when
 * the session cookie is `Secure`.
 */
export function resolveCsrfOptions(
  options: CsrfOptions = {},
  { httpsOnly }: { readonly httpsOnly: boolean } = { httpsOnly: false },
): ResolvedCsrfOptions {
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
  const formField = options.formField
  if (formField !== undefined && (typeof formField !== 'string' || formField === '')) {
    throw new TypeError("csrf.formField must be a form field name, such as '_csrf'.")
  }
  return {
    trustedOrigins,
    headerName: (options.headerName ?? 'x-csrf-token').toLowerCase(),
    formField,
    httpsOnly,
  }
}

/** True for the methods a CSRF guard lets through: GET, HEAD, OPTIONS, TRACE. */
export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method.toUpperCase())
}

/**
 * Decides whether an unsafe request may proceed. Fetch metadata first (`Sec-Fetch-Site`), then
 * `Origin` against the request's own host and the trusted origins: a browser that says the
 * request comes from another site is refused whether or not it carries a session. Without either
 * header (a script, or a browser from before 2020), a request with a session (`expectedToken`)
 * must show its synchronizer token in the token header, or, when the app accepts form tokens, in
 * the form field of a form body (`form-token`); one without a session has nothing to forge.
 */
export function checkCsrf(
  request: CsrfRequest,
  expectedToken: string | undefined,
  options: ResolvedCsrfOptions,
): CsrfVerdict {
  if (isSafeRequest(request)) return 'pass'
  const origin = request.header('origin')
  const site = request.header('sec-fetch-site')
  if (site !== undefined) {
    // `none` is a navigation the user started (a bookmark, the address bar), never a page's.
    if (site === 'same-origin' || site === 'none') return 'pass'
    if (origin !== undefined && isTrusted(origin, options)) return 'pass'
    return { reject: 'cross-site' }
  }
  if (origin !== undefined) {
    if (isSameOrigin(origin, request.header('host'), options) || isTrusted(origin, options)) {
      return 'pass'
    }
    return { reject: 'untrusted-origin' }
  }
  if (expectedToken === undefined) return 'pass'
  const token = request.header(options.headerName)
  if (token !== undefined)
    return tokensMatch(token, expectedToken) ? 'pass' : { reject: 'bad-token' }
  if (options.formField !== undefined && isFormBody(request.header('content-type'))) {
    return 'form-token'
  }
  return { reject: 'missing-token' }
}

// Middleware that honours a method override (Express's method-override, Hono's methodOverride,
// the `_method` of Rails and Laravel) routes a request by it, possibly after this guard ran, and
// a cross-site page can put `_method` in a link's query. So a request is safe only when the
// method on the wire and every override it carries are safe; an odd override value is unsafe.
const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override']

function isSafeRequest(request: CsrfRequest): boolean {
  if (!isSafeMethod(request.method)) return false
  for (const name of OVERRIDE_HEADERS) {
    const override = request.header(name)
    if (override !== undefined && !isSafeMethod(override.trim())) return false
  }
  const query = request.url?.indexOf('?') ?? -1
  if (query === -1 || request.url === undefined) return true
  return new URLSearchParams(request.url.slice(query + 1))
    .getAll('_method')
    .every((override) => isSafeMethod(override.trim()))
}

function isFormBody(contentType: string | undefined): boolean {
  const type = contentType?.split(';')[0]?.trim().toLowerCase()
  return type !== undefined && FORM_TYPES.includes(type)
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

function isSameOrigin(
  origin: string,
  host: string | undefined,
  options: ResolvedCsrfOptions,
): boolean {
  if (host === undefined) return false
  try {
    const url = new URL(origin)
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return false
    // The Host header names no scheme: an app on https takes an http page of its host (served
    // by whoever sits on the network, to a browser that still sends the cookie) as foreign.
    // Loopback is the exception: no one else can serve it, and browsers keep Secure cookies there.
    if (options.httpsOnly && url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) return false
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
