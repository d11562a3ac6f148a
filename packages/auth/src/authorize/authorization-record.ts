import { currentRequestContext } from '@mortar/core'

/** What a request did about authorization, kept in the request context's `authorization` slot. */
export interface AuthorizationRecord {
  /** Set by every check, filter or `where` of an AccessControl during the request. */
  checked: boolean
  /** Set by `@Public()` or {@link markPublic}: the handler serves data anyone may read. */
  public: boolean
  /** Protected tables the request read or changed, recorded by the {@link AuthorizationGuardPlugin}. */
  readonly tables: Set<string>
}

declare module '@mortar/core' {
  interface ContextSlots {
    authorization: AuthorizationRecord
  }
}

/** The current request's record, created on first use; `undefined` outside a request. */
export function authorizationRecord(): AuthorizationRecord | undefined {
  const context = currentRequestContext()
  if (context === undefined) return undefined
  let current = context.get('authorization')
  if (current === undefined) {
    current = { checked: false, public: false, tables: new Set() }
    context.set('authorization', current)
  }
  return current
}

/**
 * Records that the current request made an authorization call; outside a request it does
 * nothing. AccessControl calls it; call it yourself after a check of your own.
 *
 * @example
 * ```ts
 * import { markAuthorized } from '@mortar/auth'
 *
 * if (trip.riderId !== user.id) throw new ForbiddenError()
 * markAuthorized()
 * ```
 */
export function markAuthorized(): void {
  const current = authorizationRecord()
  if (current !== undefined) current.checked = true
}

/**
 * Marks the current request as public: it may read protected tables without an authorization
 * call. The function form of `@Public()`, for handlers that are not class methods.
 *
 * @example
 * ```ts
 * import { markPublic } from '@mortar/auth'
 *
 * app.get('/cities', async () => {
 *   markPublic()
 *   return listCities()
 * })
 * ```
 */
export function markPublic(): void {
  const current = authorizationRecord()
  if (current !== undefined) current.public = true
}

/**
 * Whether the current request made an authorization call or was marked public; `true` outside a
 * request (a job or a script decides for itself).
 *
 * @example
 * ```ts
 * import { isAuthorizationVerified } from '@mortar/auth'
 *
 * afterEach(() => expect(isAuthorizationVerified()).toBe(true))
 * ```
 */
export function isAuthorizationVerified(): boolean {
  const current = authorizationRecord()
  return current === undefined || current.checked || current.public
}
