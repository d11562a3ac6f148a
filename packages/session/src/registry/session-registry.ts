import { type Token, globalToken } from '@mortar/core'

/**
 * One session as the registry knows it: who it belongs to, when it began and was last seen,
 * and where from. Values are plain and immutable; the registry never stores session data
 * itself (that lives in the sealed cookie).
 *
 * @example
 * ```ts
 * import type { SessionRecord } from '@mortar/session'
 *
 * const record: SessionRecord = {
 *   id: 'b9f4c2…',
 *   userId: 'user-42',
 *   createdAt: new Date(),
 *   lastSeenAt: new Date(),
 *   ip: '203.0.113.7',
 *   userAgent: 'Mozilla/5.0',
 * }
 * ```
 */
export interface SessionRecord {
  /** Random and unguessable; unique across all users. */
  readonly id: string
  readonly userId: string
  readonly createdAt: Date
  readonly lastSeenAt: Date
  readonly ip?: string | undefined
  readonly userAgent?: string | undefined
}

/**
 * A session named with the user it belongs to: what {@link SessionRegistry.revoke} takes, so
 * a session id alone never ends a session. A {@link SessionRecord} is one.
 *
 * @example
 * ```ts
 * import { UnauthorizedError } from '@mortar/core'
 * import { session, SESSIONS, type SessionOwner } from '@mortar/session'
 *
 * const userId = session().userId
 * if (userId === undefined) throw new UnauthorizedError('Log in first.')
 * const mine: SessionOwner = { id: deviceSessionId, userId }
 * await app.resolve(SESSIONS).revoke(mine) // false when the id is not this user's
 * ```
 */
export interface SessionOwner {
  readonly id: string
  readonly userId: string
}

/**
 * Where the sessions of signed-in users are recorded, so a user can list their devices and a
 * session can be revoked: a revoked session is refused on its next request, because `find`
 * no longer returns it. Built in: {@link MemorySessionRegistry}, {@link KyselySessionRegistry}
 * (the app database) and {@link RedisSessionRegistry}.
 *
 * For plugin authors: keep each method one round trip where the engine allows, make the
 * methods marked atomic atomic, and run `sessionRegistryConformance` from
 * `@mortar/session/testing` on your implementation. Dates keep millisecond precision. Every
 * method refuses text with a lone surrogate (core's `hasLoneSurrogate`) with a ValidationError
 * (E_VALIDATION): stored as UTF-8 it becomes U+FFFD, which would make two users one.
 *
 * @example
 * ```ts
 * import { SESSION_REGISTRY } from '@mortar/session'
 *
 * const registry = app.resolve(SESSION_REGISTRY)
 * const devices = await registry.list(userId)
 * await registry.revokeAll(userId, { except: currentSessionId })
 * ```
 */
export interface SessionRegistry {
  /**
   * Records a new session. Fails with `SessionExistsError` (E_SESSION_EXISTS) when the id is
   * already registered, without changing the stored record; an id that was revoked may be
   * registered again. Atomic: of two concurrent creates of one id, exactly one succeeds.
   */
  create(record: SessionRecord): Promise<void>
  /**
   * The live record, or undefined if unknown or revoked. Called on every request that carries
   * a registered session, so it must be a single cheap lookup by id.
   */
  find(id: string): Promise<SessionRecord | undefined>
  /**
   * Sets `lastSeenAt` in one write (an UPDATE, a SET). Idempotent; never moves `lastSeenAt`
   * backwards; a no-op for an unknown or revoked id (it must not bring one back). Callers
   * throttle it (once a minute per session, say).
   */
  touch(id: string, lastSeenAt: Date): Promise<void>
  /** The user's live sessions, newest `createdAt` first; empty for an unknown user. */
  list(userId: string): Promise<readonly SessionRecord[]>
  /**
   * Revokes one session of one user: `find` stops returning it, at once and for every process.
   * The owner is part of the call, checked in the same atomic step as the revocation, so a route
   * that passes through a session id from a request cannot end another user's session. Returns
   * true if it was a live session of `userId`; false if it was unknown, already revoked or
   * another user's, told apart from none of these, so the answer says nothing about other
   * users' sessions (idempotent). An admin ending someone's session names that user.
   */
  revoke(session: SessionOwner): Promise<boolean>
  /**
   * Revokes every live session of a user, but `except` (typically the current one, for "log
   * out my other devices"). Returns how many were revoked. Atomic per session: when two run at
   * once, each session is counted by exactly one of them.
   */
  revokeAll(userId: string, options?: { readonly except?: string }): Promise<number>
}

/**
 * The token of the app's {@link SessionRegistry}; bound by {@link memorySessionRegistry},
 * {@link databaseSessionRegistry} or {@link redisSessionRegistry}.
 *
 * @example
 * ```ts
 * import { SESSION_REGISTRY } from '@mortar/session'
 *
 * const record = await app.resolve(SESSION_REGISTRY).find(sessionId)
 * if (record === undefined) throw new UnauthorizedError('This session was revoked; sign in again.')
 * ```
 */
export const SESSION_REGISTRY: Token<SessionRegistry> = globalToken<SessionRegistry>(
  'mortar.session.registry',
  {
    whenMissing:
      "add the module of the registry you chose to createApp({ modules }): databaseSessionRegistry() for sessionModule({ registry: 'database' }), redisSessionRegistry() with createApp({ redis }) for 'redis' (or memorySessionRegistry() in tests)",
  },
)

/** The module name the built-in registries use: an app has one registry. */
export const SESSION_REGISTRY_MODULE = 'session-registry'
