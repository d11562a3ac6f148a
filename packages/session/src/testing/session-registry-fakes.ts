import { SessionRegistryUnavailableError } from '../errors.js'
import {
  MemorySessionRegistry,
  type SessionOwner,
  type SessionRecord,
  type SessionRegistry,
} from '../registry/index.js'

/** One call seen by a {@link RecordingSessionRegistry}. */
export type SessionRegistryCall =
  | { readonly method: 'create'; readonly record: SessionRecord }
  | { readonly method: 'find'; readonly id: string }
  | { readonly method: 'touch'; readonly id: string; readonly lastSeenAt: Date }
  | { readonly method: 'list'; readonly userId: string }
  | { readonly method: 'revoke'; readonly id: string; readonly userId: string }
  | { readonly method: 'revokeAll'; readonly userId: string; readonly except: string | undefined }

/**
 * A working in-memory registry that also records every call, in order: for tests that check
 * how often a session manager touches, or that a logout revoked the right session.
 *
 * @example
 * ```ts
 * import { RecordingSessionRegistry } from '@mortar/session/testing'
 *
 * const registry = new RecordingSessionRegistry()
 * // … run requests …
 * expect(registry.calls.filter((call) => call.method === 'touch')).toHaveLength(1)
 * ```
 */
export class RecordingSessionRegistry extends MemorySessionRegistry {
  readonly #calls: SessionRegistryCall[] = []

  /** Every call so far, oldest first. */
  get calls(): readonly SessionRegistryCall[] {
    return this.#calls
  }

  /** Forgets the recorded calls (not the sessions). */
  clearCalls(): void {
    this.#calls.length = 0
  }

  override create(record: SessionRecord): Promise<void> {
    this.#calls.push({ method: 'create', record })
    return super.create(record)
  }

  override find(id: string): Promise<SessionRecord | undefined> {
    this.#calls.push({ method: 'find', id })
    return super.find(id)
  }

  override touch(id: string, lastSeenAt: Date): Promise<void> {
    this.#calls.push({ method: 'touch', id, lastSeenAt })
    return super.touch(id, lastSeenAt)
  }

  override list(userId: string): Promise<readonly SessionRecord[]> {
    this.#calls.push({ method: 'list', userId })
    return super.list(userId)
  }

  override revoke(session: SessionOwner): Promise<boolean> {
    this.#calls.push({ method: 'revoke', id: session.id, userId: session.userId })
    return super.revoke(session)
  }

  override revokeAll(userId: string, options: { readonly except?: string } = {}): Promise<number> {
    this.#calls.push({ method: 'revokeAll', userId, except: options.except })
    return super.revokeAll(userId, options)
  }
}

/**
 * A registry whose every call rejects with `SessionRegistryUnavailableError`, as when Redis is
 * down: for tests that check requests fail closed.
 *
 * @example
 * ```ts
 * import { SESSION_REGISTRY } from '@mortar/session'
 * import { unavailableSessionRegistry } from '@mortar/session/testing'
 *
 * app.swap(SESSION_REGISTRY, unavailableSessionRegistry())
 * ```
 */
export function unavailableSessionRegistry(): SessionRegistry {
  const fail = async (): Promise<never> => {
    throw new SessionRegistryUnavailableError(
      'The session registry is unavailable (a test fake); sessions cannot be checked.',
    )
  }
  return { create: fail, find: fail, touch: fail, list: fail, revoke: fail, revokeAll: fail }
}
