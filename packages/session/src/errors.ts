// Every error of @mortar/session. Shared by the cookie/CSRF and the registry/state areas: edit
// with small targeted changes, never rewrite the file.
import { MortarError, type MortarErrorOptions } from '@mortar/core'

/**
 * The session module was given options it cannot work with: a password shorter than 32
 * characters, a key id that is not a positive integer, a schema that refuses an empty session.
 * Raised when the module is created, so a bad deployment fails at start-up. The message names
 * the offending option, never a secret's value.
 *
 * @example
 * ```ts
 * import { SessionConfigError, sessionModule } from '@mortar/session'
 * import { z } from 'zod'
 *
 * try {
 *   sessionModule({ cookieName: 'shop.session', password: 'too short', schema: z.object({}) })
 * } catch (error) {
 *   if (error instanceof SessionConfigError) console.error(error.message)
 * }
 * ```
 */
export class SessionConfigError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_SESSION_CONFIG', 500, message, options)
  }
}

/**
 * The sealed session cookie would be larger than browsers keep (4096 bytes for `name=value`), so
 * `save()` refused to send it. Counted under a key id of the most digits a key may have (9): a
 * key rotation re-seals every cookie under the newest key, and one that no longer fitted there
 * stayed under the old key until retiring it logged the user out. Keep large data in the
 * database and only its id in the session.
 *
 * @example
 * ```ts
 * import { session, SessionTooLargeError } from '@mortar/session'
 *
 * try {
 *   await session().save()
 * } catch (error) {
 *   if (error instanceof SessionTooLargeError) console.error(error.bytes, error.limit)
 * }
 * ```
 */
export class SessionTooLargeError extends MortarError {
  /** The size the cookie would have had under a key id of 9 digits, in bytes. */
  readonly bytes: number
  /** The most a browser keeps for one cookie's `name=value`, in bytes. */
  readonly limit: number

  constructor(bytes: number, limit: number) {
    super(
      'E_SESSION_TOO_LARGE',
      500,
      `The sealed session cookie would be ${bytes} bytes when re-sealed under a 9-digit key id (as key rotation may), over the ${limit}-byte limit browsers keep; store large data server-side and keep only its id in the session.`,
      { details: { bytes, limit } },
    )
    this.bytes = bytes
    this.limit = limit
  }
}

/**
 * `save()` found session data that does not fit the module's schema, or that would not fit it
 * once read back from the cookie's JSON (a Date, a Map, a bigint: the next request would drop
 * the session). This is a bug in the code that changed `session.data` (or in the schema); the
 * issues name the fields, never their values. Thrown before anything changed.
 *
 * @example
 * ```ts
 * import { session, SessionDataError } from '@mortar/session'
 *
 * try {
 *   await session().save()
 * } catch (error) {
 *   if (error instanceof SessionDataError) console.error(error.issues)
 * }
 * ```
 */
export class SessionDataError extends MortarError {
  /** The fields that do not fit, as dotted paths with zod's message. */
  readonly issues: readonly { readonly path: string; readonly message: string }[]

  constructor(issues: readonly { readonly path: string; readonly message: string }[]) {
    super(
      'E_SESSION_DATA_INVALID',
      500,
      `The session data does not fit the session schema (${issues.map((issue) => issue.path || '(root)').join(', ')}); fix the code that set it.`,
      { details: { issues } },
    )
    this.issues = issues
  }
}

/**
 * `session()` was called where there is no session: outside a request, or in an app without
 * `sessionModule`, or behind an HTTP adapter that gives the context no HTTP exchange.
 *
 * @example
 * ```ts
 * import { session, SessionUnavailableError } from '@mortar/session'
 *
 * try {
 *   session()
 * } catch (error) {
 *   if (error instanceof SessionUnavailableError) console.error(error.message)
 * }
 * ```
 */
export class SessionUnavailableError extends MortarError {
  constructor(message: string) {
    super('E_SESSION_UNAVAILABLE', 500, message)
  }
}

/**
 * 400: the request carries several session cookies under the app's cookie name that hold
 * different sessions (one set by another host for a parent domain, or left by an earlier
 * `cookie.path` or `cookie.domain`). Refused rather than guessing: reading the first would let a
 * planted cookie choose the visitor's session, and every write would go to the other. Nothing is
 * written or cleared; clearing the site's cookies in the browser ends it.
 *
 * @example
 * ```ts
 * import { SessionCookieConflictError } from '@mortar/session'
 *
 * throw new SessionCookieConflictError('shop.session')
 * ```
 */
export class SessionCookieConflictError extends MortarError {
  constructor(cookieName: string) {
    super(
      'E_SESSION_COOKIE_CONFLICT',
      400,
      `The request carries several '${cookieName}' cookies holding different sessions (one may have been set by another host for a parent domain, or left by an earlier cookie path or domain); clear this site's cookies and sign in again.`,
      { details: { cookieName } },
    )
  }
}

/**
 * A cookie-authenticated request with an unsafe method (POST, PUT, PATCH, DELETE) came from
 * another origin or carried no valid CSRF token. Rendered as a 403 problem.
 *
 * @example
 * ```ts
 * import { CsrfError } from '@mortar/session'
 *
 * throw new CsrfError('cross-site')
 * ```
 */
export class CsrfError extends MortarError {
  /** Why the request was refused: `cross-site`, `untrusted-origin`, `missing-token`, `bad-token`. */
  readonly reason: CsrfRejection

  constructor(reason: CsrfRejection) {
    super(
      'E_CSRF_REJECTED',
      403,
      'This request was refused as a possible cross-site request forgery: send it from a page of this site, with the CSRF token from csrfToken() in the x-csrf-token header or the _csrf form field.',
      { details: { reason } },
    )
    this.reason = reason
  }
}

/** Why a {@link CsrfError} refused a request. */
export type CsrfRejection = 'cross-site' | 'untrusted-origin' | 'missing-token' | 'bad-token'

/**
 * A session registry was asked to create a session whose id is already registered; the stored
 * record is left unchanged.
 *
 * @example
 * ```ts
 * import { SessionExistsError } from '@mortar/session'
 *
 * throw new SessionExistsError()
 * ```
 */
export class SessionExistsError extends MortarError {
  constructor(
    message = 'A session with this id is already registered; create it with a new random id.',
  ) {
    super('E_SESSION_EXISTS', 409, message)
  }
}

/**
 * 503: the session registry cannot be used (its driver is not installed, or its server is
 * unreachable). Sessions cannot be checked, so requests that need one are refused (fail closed).
 *
 * @example
 * ```ts
 * import { SessionRegistryUnavailableError } from '@mortar/session'
 *
 * throw new SessionRegistryUnavailableError('Install ioredis to use the Redis session registry.')
 * ```
 */
export class SessionRegistryUnavailableError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_SESSION_REGISTRY_UNAVAILABLE', 503, message, options)
  }
}

/**
 * 409: a state entry changed since it was read: the `expectedVersion` given to `put` or
 * `delete` is no longer the stored version (or, for version 0, the entry now exists). Read it
 * again, merge, and retry.
 *
 * @example
 * ```ts
 * import { StateConflictError } from '@mortar/session'
 *
 * try {
 *   await games.put(userId, 'current', board, { expectedVersion: entry.version })
 * } catch (error) {
 *   if (!(error instanceof StateConflictError)) throw error
 *   // someone saved in between: reload and retry
 * }
 * ```
 */
export class StateConflictError extends MortarError {
  readonly namespace: string
  readonly key: string
  readonly expectedVersion: number
  /** The version stored when the write failed; 0 when the entry does not exist. */
  readonly actualVersion: number

  constructor(fields: {
    readonly namespace: string
    readonly key: string
    readonly expectedVersion: number
    readonly actualVersion: number
  }) {
    super(
      'E_STATE_CONFLICT',
      409,
      `The state '${fields.namespace}/${fields.key}' was saved by someone else (version ${fields.actualVersion}, expected ${fields.expectedVersion}); read it again and retry.`,
      { details: { ...fields } },
    )
    this.namespace = fields.namespace
    this.key = fields.key
    this.expectedVersion = fields.expectedVersion
    this.actualVersion = fields.actualVersion
  }
}

/**
 * 413: a state value is larger than its namespace allows once serialised to JSON (64 KiB by
 * default). Store less, split it under several keys, or raise `maxBytes` for the namespace.
 *
 * @example
 * ```ts
 * import { StateTooLargeError } from '@mortar/session'
 *
 * const error = new StateTooLargeError({ namespace: 'games', key: 'a', bytes: 70_000, limit: 65_536 })
 * error.status // 413
 * ```
 */
export class StateTooLargeError extends MortarError {
  /** The size of the value's JSON, in UTF-8 bytes. */
  readonly bytes: number
  readonly limit: number

  constructor(fields: {
    readonly namespace: string
    readonly key: string
    readonly bytes: number
    readonly limit: number
  }) {
    super(
      'E_STATE_TOO_LARGE',
      413,
      `The state '${fields.namespace}/${fields.key}' is ${fields.bytes} bytes of JSON, over the limit of ${fields.limit}; store less or raise maxBytes for this namespace.`,
      { details: { ...fields } },
    )
    this.bytes = fields.bytes
    this.limit = fields.limit
  }
}

/**
 * 500: a stored state value no longer fits its namespace's schema (or is not JSON), usually
 * because the schema changed. The value is not returned; widen the schema (defaults,
 * `z.catch`) or migrate the stored rows.
 *
 * @example
 * ```ts
 * import { StateCorruptedError } from '@mortar/session'
 *
 * try {
 *   await preferences.get(userId, 'ui')
 * } catch (error) {
 *   if (error instanceof StateCorruptedError) await preferences.delete(userId, 'ui')
 * }
 * ```
 */
export class StateCorruptedError extends MortarError {
  readonly namespace: string
  readonly key: string
  /** Dotted paths of the fields that failed, never their values. */
  readonly paths: readonly string[]

  constructor(
    fields: { readonly namespace: string; readonly key: string; readonly paths: readonly string[] },
    options?: MortarErrorOptions,
  ) {
    const where = fields.paths.length > 0 ? ` (at ${fields.paths.join(', ')})` : ''
    super(
      'E_STATE_CORRUPTED',
      500,
      `The stored state '${fields.namespace}/${fields.key}' does not fit its schema${where}; widen the schema or migrate the stored values.`,
      { ...options, details: { ...fields } },
    )
    this.namespace = fields.namespace
    this.key = fields.key
    this.paths = fields.paths
  }
}
