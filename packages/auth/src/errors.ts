// Every error of @mortar/auth. Shared by the policy and the authentication areas: edit with small
// targeted changes, never rewrite the file.
import {
  ForbiddenError,
  MortarError,
  type MortarErrorOptions,
  NotFoundError,
  TooManyRequestsError,
} from '@mortar/core'

/**
 * A stored password hash is not an scrypt PHC string this package can read (another algorithm,
 * a truncated column, out-of-range parameters). A server-side data problem, so a 500 from
 * `verify`: check how the column was written. `verifyOrDummy`, for logins, answers false instead
 * and logs this error's code and reason.
 *
 * @example
 * ```ts
 * import { InvalidPasswordHashError, PasswordHasher } from '@mortar/auth'
 *
 * try {
 *   await new PasswordHasher().verify(user.passwordHash, password)
 * } catch (error) {
 *   if (error instanceof InvalidPasswordHashError) console.error(error.reason)
 * }
 * ```
 */
export class InvalidPasswordHashError extends MortarError {
  /** What is wrong with the string, without quoting it. */
  readonly reason: string

  constructor(reason: string, options?: MortarErrorOptions) {
    super(
      'E_AUTH_PASSWORD_HASH_INVALID',
      500,
      `The stored password hash is not a valid scrypt PHC string (${reason}); store hashes made by PasswordHasher.hash().`,
      options,
    )
    this.reason = reason
  }
}

/**
 * A password that is not a string of well-formed Unicode: a lone UTF-16 surrogate (sent as
 * `"\ud800"` in JSON) would be encoded as U+FFFD, so two different passwords would share a hash.
 * A 400 from `hash`, `verify`, `verifyOrDummy` and `dummyVerify` alike, whether or not the
 * account exists. The message never quotes the password.
 *
 * @example
 * ```ts
 * import { InvalidPasswordError, PasswordHasher } from '@mortar/auth'
 *
 * try {
 *   await new PasswordHasher().hash('\ud800')
 * } catch (error) {
 *   if (error instanceof InvalidPasswordError) console.error(error.message)
 * }
 * ```
 */
export class InvalidPasswordError extends MortarError {
  constructor(options?: MortarErrorOptions) {
    super(
      'E_AUTH_PASSWORD_INVALID',
      400,
      'A password must be a string of well-formed Unicode (no lone surrogate): send the characters the user typed.',
      options,
    )
  }
}

/**
 * The password hasher was given settings it refuses (a cost outside scrypt's range or over 1 GiB
 * of memory, a key or salt too short). Raised at construction, so a bad deployment fails at
 * start-up.
 *
 * @example
 * ```ts
 * import { PasswordHasher, PasswordHasherConfigError } from '@mortar/auth'
 *
 * try {
 *   new PasswordHasher({ keyLength: 8 })
 * } catch (error) {
 *   if (error instanceof PasswordHasherConfigError) console.error(error.message)
 * }
 * ```
 */
export class PasswordHasherConfigError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_AUTH_PASSWORD_CONFIG', 500, message, options)
  }
}

/**
 * Every password hash slot is busy and the queue before them is full: a burst of logins or
 * sign-ups beyond what the server hashes at once (see `PasswordHasherOptions.concurrency`). A 503
 * with `Retry-After: 1`, refused before any hashing, so the burst cannot take every thread that
 * file and DNS work also need. Nothing is said about the account.
 *
 * @example
 * ```ts
 * import { PasswordHasher, PasswordHasherBusyError } from '@mortar/auth'
 *
 * try {
 *   await new PasswordHasher().hash('correct horse battery staple')
 * } catch (error) {
 *   if (error instanceof PasswordHasherBusyError) console.log(error.status) // 503
 * }
 * ```
 */
export class PasswordHasherBusyError extends MortarError {
  // A 503 whose message and Retry-After are for the client: it says when to come back.
  override readonly expose: boolean = true

  constructor(options?: MortarErrorOptions) {
    super(
      'E_AUTH_PASSWORD_BUSY',
      503,
      'The server is checking too many passwords at once; try again in a second.',
      { ...options, details: { ...options?.details, retryAfter: 1 } },
    )
  }
}

/**
 * Too many failed logins for this account or from this address: the login is locked for
 * `retryAfterSeconds`, sent as `Retry-After`. The message never says which of the two tripped,
 * nor whether the account exists.
 *
 * @example
 * ```ts
 * import { LoginThrottledError } from '@mortar/auth'
 *
 * try {
 *   await throttle.attempt({ account: email, ip }, () => checkPassword(email, password))
 * } catch (error) {
 *   if (error instanceof LoginThrottledError) console.log(error.retryAfterSeconds)
 * }
 * ```
 */
export class LoginThrottledError extends TooManyRequestsError {
  override readonly code: string = 'E_LOGIN_THROTTLED'

  constructor(retryAfterSeconds: number, options?: MortarErrorOptions) {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds))
    super(seconds, `Too many failed logins; wait ${seconds} s before trying again.`, options)
  }
}

/**
 * The login throttle was configured with limits it cannot work with (a zero window, a lockout
 * shorter than a second). Raised at construction, so a bad deployment fails at start-up.
 *
 * @example
 * ```ts
 * import { LoginThrottle, LoginThrottleConfigError, MemoryThrottleStore } from '@mortar/auth'
 * import { SystemClock } from '@mortar/core'
 *
 * try {
 *   new LoginThrottle({ store: new MemoryThrottleStore(), clock: new SystemClock(), account: { maxFailures: 0 } })
 * } catch (error) {
 *   if (error instanceof LoginThrottleConfigError) console.error(error.message)
 * }
 * ```
 */
export class LoginThrottleConfigError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_LOGIN_THROTTLE_CONFIG', 500, message, options)
  }
}

/**
 * The throttle's store cannot be reached (Redis down, ioredis not installed). Login fails closed:
 * a 503 rather than unthrottled guessing.
 *
 * @example
 * ```ts
 * import { LoginThrottleUnavailableError } from '@mortar/auth'
 *
 * try {
 *   await throttle.attempt({ account: email, ip }, () => checkPassword(email, password))
 * } catch (error) {
 *   if (error instanceof LoginThrottleUnavailableError) console.error('throttle store down')
 * }
 * ```
 */
export class LoginThrottleUnavailableError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_LOGIN_THROTTLE_UNAVAILABLE', 503, message, options)
  }
}

// --- policies and access control -----------------------------------------------------------

/** What a policy denial carries: the check's arguments, the deciding rule and why. */
export interface DenialInfo {
  readonly action: string
  readonly resource: string
  /** The rule that decided: a deny rule's id, the tenant rule's id, or `default-deny`. */
  readonly ruleId: string
  readonly reason: string
}

/**
 * The policy denies this action to this principal (403). Carries the action, the resource, the
 * deciding rule's id and its reason, which also render as problem+json members: they describe
 * the policy, never the row.
 *
 * @example
 * ```ts
 * import { AccessDeniedError } from '@mortar/auth'
 *
 * try {
 *   await access.authorize(principal, 'cancel', 'trip', trip)
 * } catch (error) {
 *   if (error instanceof AccessDeniedError) console.log(error.ruleId, error.reason)
 * }
 * ```
 */
export class AccessDeniedError extends ForbiddenError {
  override readonly code: string = 'E_POLICY_DENIED'
  readonly action: string
  readonly resource: string
  readonly ruleId: string
  readonly reason: string

  constructor(info: DenialInfo, options?: MortarErrorOptions) {
    super(`You may not ${info.action} this ${info.resource}: ${info.reason}`, {
      ...options,
      details: {
        ...options?.details,
        action: info.action,
        resource: info.resource,
        ruleId: info.ruleId,
      },
    })
    this.action = info.action
    this.resource = info.resource
    this.ruleId = info.ruleId
    this.reason = info.reason
  }
}

/**
 * The policy denies this action on a resource whose existence it hides (`hideExistence`): a 404
 * that renders exactly like a missing row (code `E_NOT_FOUND`, no members), so a client cannot
 * probe for ids. The rule id and reason stay on the error for logs.
 *
 * @example
 * ```ts
 * import { HiddenResourceError } from '@mortar/auth'
 *
 * try {
 *   await access.authorize(principal, 'read', 'trip', trip)
 * } catch (error) {
 *   if (error instanceof HiddenResourceError) console.log('hidden by', error.ruleId)
 * }
 * ```
 */
export class HiddenResourceError extends NotFoundError {
  readonly action: string
  readonly resource: string
  readonly ruleId: string
  readonly reason: string

  constructor(info: DenialInfo, options?: MortarErrorOptions) {
    super('Not found.', options)
    this.action = info.action
    this.resource = info.resource
    this.ruleId = info.ruleId
    this.reason = info.reason
  }
}

/**
 * A policy definition is invalid (an unknown inherited role, an inheritance cycle, a duplicate
 * rule id). Raised by `build()`, so a bad policy fails at start-up.
 *
 * @example
 * ```ts
 * import { definePolicy, PolicyDefinitionError } from '@mortar/auth'
 *
 * try {
 *   definePolicy<Db>().role('admin', { inherits: ['ghost'] }, (r) => r).build()
 * } catch (error) {
 *   if (error instanceof PolicyDefinitionError) console.error(error.message)
 * }
 * ```
 */
export class PolicyDefinitionError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_POLICY_INVALID', 500, message, options)
  }
}

/**
 * A synchronous point check met a relation condition (`exists`) without the related rows: pass
 * them as `{ related }`, or use `canAsync`/`authorize`, which run the EXISTS on the database.
 *
 * @example
 * ```ts
 * import { PolicyNeedsDataError } from '@mortar/auth'
 *
 * try {
 *   access.can(principal, 'read', 'trip', trip)
 * } catch (error) {
 *   if (error instanceof PolicyNeedsDataError) await access.canAsync(principal, 'read', 'trip', trip)
 * }
 * ```
 */
export class PolicyNeedsDataError extends MortarError {
  readonly table: string

  constructor(table: string, options?: MortarErrorOptions) {
    super(
      'E_POLICY_NEEDS_DATA',
      500,
      `This rule needs rows of '${table}' to decide: pass { related: { ${table}: rows } } to can(), or use canAsync()/authorize() with a database.`,
      options,
    )
    this.table = table
  }
}

/**
 * A query filter (`where`, `filter`) was asked of an `AccessControl` that has no database, or
 * reads a column PostgreSQL did not list: filters compile for the engine and, on PostgreSQL, the
 * column types read when the `AccessControl` was created. Make it with
 * `await AccessControl.create({ policy, db })` after the tables exist. Also thrown by `create`
 * for a database whose driver reads values otherwise than the SQL is written for.
 *
 * @example
 * ```ts
 * import { PolicyDatabaseError } from '@mortar/auth'
 *
 * const isMisconfigured = (error: unknown) => error instanceof PolicyDatabaseError
 * ```
 */
export class PolicyDatabaseError extends MortarError {
  constructor(message: string, options?: MortarErrorOptions) {
    super('E_POLICY_DATABASE', 500, message, options)
  }
}

/**
 * A request read or changed a resource the policy protects without any authorization call and without
 * being marked public (`@Public()`); raised in tests and development, like Pundit's
 * `verify_authorized`. Call `authorize`, `filter` or `where`, or mark the handler public.
 *
 * @example
 * ```ts
 * import { AuthorizationNotVerifiedError } from '@mortar/auth'
 *
 * const isMissingCheck = (error: unknown) => error instanceof AuthorizationNotVerifiedError
 * ```
 */
export class AuthorizationNotVerifiedError extends MortarError {
  readonly resource: string

  constructor(resource: string, options?: MortarErrorOptions) {
    super(
      'E_AUTH_NOT_VERIFIED',
      500,
      `This request read or changed '${resource}' without an authorization call: use @Authorize, access.authorize/filter/where, or mark the handler @Public().`,
      options,
    )
    this.resource = resource
  }
}
