import { createHmac } from 'node:crypto'
import { describeOption, isDevelopment, type Principal, Secret, secretWeakness } from '@mortar/core'
import type { z } from 'zod'
import type { CsrfOptions } from '../csrf/csrf-options.js'
import { SessionConfigError } from '../errors.js'
import type { SessionRegistry } from '../registry/session-registry.js'

/** One session secret: a string of at least 32 characters, or core's `Secret` wrapping one. */
export type SessionSecret = string | Secret<string>

/**
 * The session password: one secret, or a map of key id (a positive integer) to secret for
 * rotation. The highest id seals new cookies; every id unseals. Remove an id to log out everyone
 * whose cookie was sealed with it.
 *
 * @example
 * ```ts
 * import type { SessionPassword } from '@mortar/session'
 *
 * const password: SessionPassword = { 1: process.env.OLD_KEY ?? '', 2: process.env.NEW_KEY ?? '' }
 * ```
 */
export type SessionPassword = SessionSecret | Readonly<Record<number | string, SessionSecret>>

/**
 * Attributes of the session cookie. `httpOnly` and `sameSite: 'lax'` are on by default;
 * `secure` defaults to on outside development (see {@link SessionModuleOptions.development}),
 * and always for a `__Host-` or `__Secure-` cookie name, whose rules browsers enforce (a
 * `__Host-` cookie also needs the default path and no domain). `path` must start with `/` and
 * `domain` be a bare host name; anything else is a `SessionConfigError` at start.
 *
 * @example
 * ```ts
 * import type { SessionCookieOptions } from '@mortar/session'
 *
 * const cookie: SessionCookieOptions = { domain: 'shop.example', sameSite: 'strict' }
 * ```
 */
export interface SessionCookieOptions {
  readonly path?: string
  readonly domain?: string
  readonly sameSite?: 'lax' | 'strict' | 'none'
  readonly secure?: boolean
  readonly httpOnly?: boolean
}

/** What {@link SessionModuleOptions.onInvalidData} is told about a cookie that was dropped. */
export interface InvalidSessionEvent {
  /**
   * `invalid-seal`: not a seal, or tampered with; `unknown-key`: sealed with a key id that is not
   * configured (a removed key, or a foreign cookie); `malformed`: a valid seal whose envelope is
   * not a Mortar session; `schema`: the data does not fit the schema (an old shape);
   * `issued-ahead`: sealed (or its session begun) over a minute ahead of this server's clock, by
   * a server whose clock runs fast or a replay of one (check that every server keeps time, NTP).
   */
  readonly reason: 'invalid-seal' | 'unknown-key' | 'malformed' | 'schema' | 'issued-ahead'
  /** For `schema`: the fields that did not fit (paths and messages, never values). */
  readonly issues?: readonly { readonly path: string; readonly message: string }[]
}

/** What {@link SessionModuleOptions.resolvePrincipal} receives beside the session data. */
export interface SessionIdentity {
  readonly sessionId: string
  /** Set by `session.login(userId)`; undefined for an anonymous session. */
  readonly userId: string | undefined
}

/**
 * Options of `sessionModule`.
 *
 * @example
 * ```ts
 * import { sessionModule } from '@mortar/session'
 * import { z } from 'zod'
 *
 * export const sessions = sessionModule({
 *   cookieName: 'shop.session',
 *   password: process.env.SESSION_PASSWORD ?? '',
 *   schema: z.object({ cart: z.array(z.string()).default([]) }),
 *   rolling: 300,
 *   resolvePrincipal: (_data, { userId }) => (userId ? { id: userId } : undefined),
 * })
 * ```
 */
export interface SessionModuleOptions<S extends z.ZodType = z.ZodType> {
  /** One secret (at least 32 characters) or a map of key id to secret; checked at creation. */
  readonly password: SessionPassword
  /**
   * The zod schema of `session.data`. It must accept `{}` (optional fields or defaults): that is
   * what an empty session holds. Data that no longer fits is dropped, never an error page.
   */
  readonly schema: S
  /**
   * The session cookie's name, required and different for each app: browsers send a host's
   * cookies to every port and path on it, so two apps on one host (`localhost:3000` and
   * `localhost:3001`, or two apps behind one domain) see each other's cookies. Name it after the
   * app (`'shop.session'`). Seals are bound to the name as well: a cookie sealed for one name
   * never opens under another, even with the same password. A `__Host-` name
   * (`'__Host-shop.session'`) keeps sibling subdomains from setting or shadowing the cookie.
   */
  readonly cookieName: string
  /** Seconds a session lives after its cookie was last issued. Default 14 days. */
  readonly ttl?: number
  /** Seconds a session may live from its creation, however active. Default 30 days. */
  readonly absoluteTtl?: number
  /**
   * Sliding expiry: re-issue the cookie on a request that uses it, at most every `n` seconds
   * (`true` means every 60 s), which must be shorter than `ttl`. Off by default: then a session
   * ends `ttl` after its last save.
   */
  readonly rolling?: boolean | number
  readonly cookie?: SessionCookieOptions
  /**
   * Development mode drops the `Secure` cookie default so the cookie works on plain
   * `http://localhost`. Default: `NODE_ENV` is `development` or `test` (core's `isDevelopment`);
   * unset counts as production, so a deployment that forgot NODE_ENV keeps Secure cookies.
   */
  readonly development?: boolean
  /**
   * Records the sessions of logged-in users so they can be listed and revoked. A
   * {@link SessionRegistry} instance, or `'database'` / `'redis'` for the registry that the
   * matching registry module binds under `SESSION_REGISTRY`. Off by default.
   */
  readonly registry?: 'database' | 'redis' | SessionRegistry
  /** How often a registered session's last-seen time is written. Default 60,000 ms. */
  readonly touchIntervalMs?: number
  /** Fills the request's `principal` slot from the session, before any handler runs. */
  readonly resolvePrincipal?: (
    data: z.output<S>,
    identity: SessionIdentity,
  ) => Principal | undefined | Promise<Principal | undefined>
  /** Called when a cookie is dropped as invalid; by default a warning is logged. Must not throw. */
  readonly onInvalidData?: (event: InvalidSessionEvent) => void
  /** The CSRF guard for cookie-authenticated unsafe requests; on by default, `false` turns it off. */
  readonly csrf?: CsrfOptions | false
}

/** {@link SessionModuleOptions} with every default filled and every secret checked. */
export interface ResolvedSessionConfig {
  /** Key id → secret, with a null prototype: a seal's key id is attacker input. */
  readonly passwords: Readonly<Record<string, string>>
  readonly newestKeyId: string
  readonly cookieName: string
  readonly ttlSeconds: number
  readonly absoluteTtlSeconds: number
  /** 0 when rolling is off. */
  readonly rollingSeconds: number
  readonly path: string
  readonly domain: string | undefined
  readonly sameSite: 'lax' | 'strict' | 'none'
  readonly secure: boolean
  readonly httpOnly: boolean
  readonly touchIntervalMs: number
}

const MIN_SECRET_LENGTH = 32
/**
 * The most digits a password key id has. A cookie re-sealed under a newer key grows by the key
 * id's extra digits, so `save()` counts every cookie under a key id this long (session-codec.ts).
 */
export const MAX_KEY_ID_DIGITS = 9
const KEY_ID = new RegExp(`^[1-9][0-9]{0,${MAX_KEY_ID_DIGITS - 1}}$`)
const GENERATE = `Generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"`
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const DAY = 24 * 60 * 60

/** Checks the options and fills the defaults; throws {@link SessionConfigError}. */
export function resolveSessionConfig(options: SessionModuleOptions): ResolvedSessionConfig {
  const cookieName: unknown = options.cookieName
  if (typeof cookieName !== 'string' || cookieName === '') {
    throw new SessionConfigError(
      "cookieName is required: name the cookie after your app (cookieName: 'shop.session'). Browsers send a host's cookies to every port on it, so two apps on one host must not share a name.",
    )
  }
  if (!COOKIE_NAME.test(cookieName)) {
    throw new SessionConfigError(
      `cookieName '${cookieName}' is not a valid cookie name; use letters, digits and . _ -.`,
    )
  }
  const { passwords, newestKeyId } = resolvePasswords(options.password, cookieName)
  const ttlSeconds = positive('ttl', options.ttl ?? 14 * DAY)
  const absoluteTtlSeconds = positive('absoluteTtl', options.absoluteTtl ?? 30 * DAY)
  const rolling = options.rolling ?? false
  const rollingSeconds =
    rolling === true ? 60 : rolling === false ? 0 : nonNegative('rolling', rolling)
  if (rollingSeconds >= ttlSeconds) {
    // Re-issued at most every `rolling` seconds and ended `ttl` after its last issue, a session
    // in use all along would end between two re-issues: every visitor signed out each ttl.
    throw new SessionConfigError(
      `rolling (${rollingSeconds} s) must be shorter than ttl (${ttlSeconds} s), or a session in use would end before it is re-issued.`,
    )
  }
  const development = options.development ?? isDevelopment()
  const sameSite = options.cookie?.sameSite ?? 'lax'
  const prefix = cookiePrefix(cookieName)
  // A prefixed cookie is Secure even in development: browsers keep Secure cookies from
  // http://localhost, and drop a prefixed one without the attribute.
  const secure = options.cookie?.secure ?? (prefix !== undefined || !development)
  if (sameSite === 'none' && !secure) {
    throw new SessionConfigError(
      "cookie.sameSite 'none' needs a Secure cookie (browsers drop it otherwise); set cookie.secure: true.",
    )
  }
  const path = cookiePath(options.cookie?.path)
  const domain = cookieDomain(options.cookie?.domain)
  // Browsers refuse to store a prefixed cookie that breaks its prefix's rules (RFC 6265bis,
  // names matched in any case): the session would never stick, with no error anywhere.
  if (prefix !== undefined && !secure) {
    throw new SessionConfigError(
      `cookieName '${cookieName}' starts with ${prefix}, which browsers keep only with Secure; remove cookie.secure: false (browsers accept Secure cookies from http://localhost) or choose a name without the prefix.`,
    )
  }
  if (prefix === '__Host-' && (domain !== undefined || path !== '/')) {
    throw new SessionConfigError(
      `cookieName '${cookieName}' starts with __Host-, which browsers keep only with Path=/ and no Domain; remove cookie.domain and cookie.path, or use a __Secure- name to share the cookie with subdomains.`,
    )
  }
  return {
    passwords,
    newestKeyId,
    cookieName,
    ttlSeconds,
    absoluteTtlSeconds,
    rollingSeconds,
    path,
    domain,
    sameSite,
    secure,
    httpOnly: options.cookie?.httpOnly ?? true,
    touchIntervalMs: nonNegative('touchIntervalMs', options.touchIntervalMs ?? 60_000),
  }
}

// Written into Set-Cookie as given: a `;` or a line break would add attributes of its own (a
// Domain, SameSite=None), and a value browsers reject (a relative path, a URL for a domain) makes
// them ignore the attribute or drop the cookie, so the session never sticks, with no error.
const PATH = /^\/[\x21-\x3a\x3c-\x7e]*$/
const DOMAIN =
  /^\.?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

function cookiePath(path: unknown): string {
  if (path === undefined) return '/'
  if (typeof path !== 'string' || !PATH.test(path)) {
    throw new SessionConfigError(
      `cookie.path must start with / and hold no spaces, ';' or control characters (such as '/' or '/app'); got ${describeOption(path)}.`,
    )
  }
  return path
}

function cookieDomain(domain: unknown): string | undefined {
  if (domain === undefined) return undefined
  if (typeof domain !== 'string' || domain.length > 253 || !DOMAIN.test(domain)) {
    throw new SessionConfigError(
      `cookie.domain must be a host name such as 'shop.example' (no scheme, port, path or ';'); got ${describeOption(domain)}.`,
    )
  }
  return domain
}

/** The name prefix whose rules browsers enforce, in its canonical case, if the name has one. */
function cookiePrefix(name: string): '__Host-' | '__Secure-' | undefined {
  const lower = name.toLowerCase()
  if (lower.startsWith('__host-')) return '__Host-'
  if (lower.startsWith('__secure-')) return '__Secure-'
  return undefined
}

function resolvePasswords(
  password: SessionPassword,
  cookieName: string,
): {
  passwords: Record<string, string>
  newestKeyId: string
} {
  const passwords: Record<string, string> = Object.create(null)
  if (typeof password === 'string' || Secret.isSecret(password)) {
    passwords['1'] = forCookie(checkSecret('password', password), cookieName)
    return { passwords, newestKeyId: '1' }
  }
  if (typeof password !== 'object' || password === null) {
    throw new SessionConfigError(
      'password must be a secret of at least 32 characters, or a map of key id to secret.',
    )
  }
  const ids = Object.keys(password)
  if (ids.length === 0) {
    throw new SessionConfigError('password is an empty map; give at least one key id and secret.')
  }
  let newest = 0
  const seen = new Map<string, string>()
  for (const id of ids) {
    // iron-session seals with the numerically highest id, so ids must be plain integers.
    if (!KEY_ID.test(id)) {
      throw new SessionConfigError(
        `password key id '${id.slice(0, 20)}' is not a positive integer of at most ${MAX_KEY_ID_DIGITS} digits; number your keys 1, 2, 3… (the highest seals).`,
      )
    }
    const secret = checkSecret(`password[${id}]`, (password as Record<string, SessionSecret>)[id])
    // One secret under two ids is no rotation: a leaked key "rotated out" would still forge
    // and open cookies under its twin's id.
    const twin = seen.get(secret)
    if (twin !== undefined) {
      throw new SessionConfigError(
        `password[${id}] repeats the secret of password[${twin}]; give each key id a secret of its own. ${GENERATE}`,
      )
    }
    seen.set(secret, id)
    passwords[id] = forCookie(secret, cookieName)
    newest = Math.max(newest, Number(id))
  }
  return { passwords, newestKeyId: String(newest) }
}

// Each secret seals through a key of its own per cookie name, so a seal made for one app's cookie
// never opens as another's, even where two apps share a password and a cookie is sent (by a
// browser, or by hand) under the other app's name.
function forCookie(secret: string, cookieName: string): string {
  return createHmac('sha256', secret)
    .update(`mortar.session.cookie:${cookieName}`)
    .digest('base64url')
}

function checkSecret(name: string, value: SessionSecret | undefined): string {
  const revealed = Secret.isSecret(value) ? (value as Secret<unknown>).reveal() : value
  if (typeof revealed !== 'string') {
    throw new SessionConfigError(`${name} must be a string secret; got ${typeof revealed}.`)
  }
  if (revealed.trim() !== revealed) {
    // A line break or padding kept from an env file or a secret store: servers that read the
    // secret with and without it seal with different keys and drop each other's cookies, and
    // padding counts towards the length while adding no strength.
    throw new SessionConfigError(
      `${name} begins or ends with whitespace (a line break or padding from where it is set); remove it there. ${GENERATE}`,
    )
  }
  if (revealed.length < MIN_SECRET_LENGTH) {
    // The length is safe to show; the value never is.
    throw new SessionConfigError(
      `${name} is ${revealed.length} characters; a session secret needs at least ${MIN_SECRET_LENGTH}. ${GENERATE}`,
    )
  }
  const weakness = secretWeakness(revealed)
  if (weakness !== undefined) {
    throw new SessionConfigError(`${name} is guessable: ${weakness}. ${GENERATE}`)
  }
  return revealed
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new SessionConfigError(`${name} must be a positive number of seconds; got ${value}.`)
  }
  return value
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new SessionConfigError(`${name} must be zero or a positive number; got ${value}.`)
  }
  return value
}
