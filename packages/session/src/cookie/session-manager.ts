import { type Token, globalToken } from '@mortar/core'
import { SessionConfigError } from '../errors.js'
import type { SessionOwner, SessionRecord, SessionRegistry } from '../registry/session-registry.js'

/**
 * Lists and revokes the sessions of logged-in users, through the registry given to
 * `sessionModule({ registry })`. A revoked session is refused on its next request.
 *
 * @example
 * ```ts
 * import { session, SESSIONS } from '@mortar/session'
 *
 * // "Log out my other devices"
 * const current = session()
 * await app.resolve(SESSIONS).revokeAll(current.userId ?? '', { except: current.id })
 * ```
 */
export class SessionManager {
  readonly #registry: SessionRegistry | undefined

  constructor(registry: SessionRegistry | undefined) {
    this.#registry = registry
  }

  /** The user's live sessions, newest first (for a "your devices" page). */
  async listSessions(userId: string): Promise<readonly SessionRecord[]> {
    return this.#require('listSessions').list(userId)
  }

  /**
   * Revokes one session of `session.userId`; true if it was a live session of that user, false
   * if unknown, already revoked or another user's (a session id from a request ends only the
   * caller's own session when `userId` is the caller's).
   *
   * @example
   * ```ts
   * import { session, SESSIONS } from '@mortar/session'
   *
   * const userId = session().userId
   * if (userId !== undefined) await app.resolve(SESSIONS).revoke({ id: deviceSessionId, userId })
   * ```
   */
  async revoke(session: SessionOwner): Promise<boolean> {
    return this.#require('revoke').revoke(session)
  }

  /** Revokes every session of the user but `except`; returns how many were revoked. */
  async revokeAll(userId: string, options?: { readonly except?: string }): Promise<number> {
    return this.#require('revokeAll').revokeAll(userId, options)
  }

  #require(method: string): SessionRegistry {
    if (this.#registry !== undefined) return this.#registry
    throw new SessionConfigError(
      `SessionManager.${method}() needs a session registry: pass sessionModule({ registry: 'database' }) and add databaseSessionRegistry() (or 'redis' with redisSessionRegistry()).`,
    )
  }
}

/**
 * The app's {@link SessionManager}, bound by `sessionModule`.
 *
 * @example
 * ```ts
 * import { SESSIONS } from '@mortar/session'
 *
 * const devices = await app.resolve(SESSIONS).listSessions('user-42')
 * ```
 */
export const SESSIONS: Token<SessionManager> = globalToken<SessionManager>('mortar.session.manager')
