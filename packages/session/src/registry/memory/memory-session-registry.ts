import { defineModule, describeOption, type Module } from '@mortar/core'
import { SessionConfigError, SessionExistsError } from '../../errors.js'
import { checkRegistryText } from '../registry-text.js'
import {
  SESSION_REGISTRY,
  SESSION_REGISTRY_MODULE,
  type SessionOwner,
  type SessionRecord,
  type SessionRegistry,
} from '../session-registry.js'

/** Options of {@link MemorySessionRegistry} and {@link memorySessionRegistry}. */
export interface MemorySessionRegistryOptions {
  /**
   * Sessions not seen for this many seconds are forgotten (default 30 days, as the database
   * registry prunes them), so memory does not grow with every login ever made.
   */
  readonly pruneIdleAfter?: number
}

const DAY_SECONDS = 86_400
// Creations between two sweeps: no timer to own, and a sweep's cost spread over many logins.
const SWEEP_EVERY = 256

/**
 * A {@link SessionRegistry} in this process's memory: for tests and single-process apps that
 * accept losing every registration on restart. Records are copied in and out, so callers
 * cannot change what is stored. Sessions idle past `pruneIdleAfter` are swept as new ones are
 * created.
 *
 * @example
 * ```ts
 * import { MemorySessionRegistry } from '@mortar/session'
 *
 * const registry = new MemorySessionRegistry()
 * await registry.create({ id: 's1', userId: 'u1', createdAt: new Date(), lastSeenAt: new Date() })
 * await registry.revoke({ id: 's1', userId: 'u1' }) // true
 * ```
 */
export class MemorySessionRegistry implements SessionRegistry {
  readonly #records = new Map<string, SessionRecord>()
  readonly #idleMs: number
  #creates = 0

  constructor(options: MemorySessionRegistryOptions = {}) {
    this.#idleMs = idleMsOf(options)
  }

  async create(record: SessionRecord): Promise<void> {
    checkRegistryText({
      id: record.id,
      userId: record.userId,
      ip: record.ip,
      userAgent: record.userAgent,
    })
    if (this.#records.has(record.id)) throw new SessionExistsError()
    if (++this.#creates % SWEEP_EVERY === 0) this.#sweep(record.createdAt.getTime())
    this.#records.set(record.id, copy(record))
  }

  #sweep(nowMs: number): void {
    for (const [id, record] of this.#records) {
      if (record.lastSeenAt.getTime() < nowMs - this.#idleMs) this.#records.delete(id)
    }
  }

  async find(id: string): Promise<SessionRecord | undefined> {
    checkRegistryText({ id })
    const record = this.#records.get(id)
    return record === undefined ? undefined : copy(record)
  }

  async touch(id: string, lastSeenAt: Date): Promise<void> {
    checkRegistryText({ id })
    const record = this.#records.get(id)
    if (record === undefined || record.lastSeenAt.getTime() >= lastSeenAt.getTime()) return
    this.#records.set(id, { ...record, lastSeenAt: new Date(lastSeenAt.getTime()) })
  }

  async list(userId: string): Promise<readonly SessionRecord[]> {
    checkRegistryText({ userId })
    return [...this.#records.values()]
      .filter((record) => record.userId === userId)
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .map(copy)
  }

  async revoke(session: SessionOwner): Promise<boolean> {
    checkRegistryText({ id: session.id, userId: session.userId })
    if (this.#records.get(session.id)?.userId !== session.userId) return false
    return this.#records.delete(session.id)
  }

  async revokeAll(userId: string, options: { readonly except?: string } = {}): Promise<number> {
    checkRegistryText({ userId, except: options.except })
    let revoked = 0
    for (const record of [...this.#records.values()]) {
      if (record.userId !== userId || record.id === options.except) continue
      this.#records.delete(record.id)
      revoked++
    }
    return revoked
  }
}

function idleMsOf(options: MemorySessionRegistryOptions): number {
  const idleSeconds = options.pruneIdleAfter ?? 30 * DAY_SECONDS
  if (!(Number.isFinite(idleSeconds) && idleSeconds > 0)) {
    throw new SessionConfigError(
      `pruneIdleAfter must be a positive number of seconds; got ${describeOption(idleSeconds)}.`,
    )
  }
  return idleSeconds * 1_000
}

function copy(record: SessionRecord): SessionRecord {
  return {
    id: record.id,
    userId: record.userId,
    createdAt: new Date(record.createdAt.getTime()),
    lastSeenAt: new Date(record.lastSeenAt.getTime()),
    ip: record.ip,
    userAgent: record.userAgent,
  }
}

/**
 * A module binding `SESSION_REGISTRY` to a {@link MemorySessionRegistry}: the registry for tests
 * and for one-process apps that need no persistence.
 *
 * @example
 * ```ts
 * import { createApp } from '@mortar/core'
 * import { memorySessionRegistry } from '@mortar/session'
 *
 * const app = createApp({ modules: [memorySessionRegistry()] })
 * ```
 */
export function memorySessionRegistry(options: MemorySessionRegistryOptions = {}): Module {
  // Checked now, so a bad option fails where the module is made.
  idleMsOf(options)
  return defineModule({
    name: SESSION_REGISTRY_MODULE,
    register(binder) {
      binder.bind(SESSION_REGISTRY, { useFactory: () => new MemorySessionRegistry(options) })
    },
  })
}
