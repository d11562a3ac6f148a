import type { Clock } from '@mortar/core'
import type { z } from 'zod'
import { StateConflictError } from '../errors.js'
import type {
  StateDeleteOptions,
  StateEntry,
  StateNamespace,
  StateNamespaceOptions,
  StatePutOptions,
  StateStore,
} from './state-store.js'
import { type NamespaceSettings, StateStoreDefaults } from './state-store-defaults.js'
import {
  checkExpectedVersion,
  checkStateIds,
  checkTtl,
  decodeState,
  encodeState,
  expiresAt,
} from './state-values.js'

/** Options of {@link MemoryStateStore}. */
export interface MemoryStateStoreOptions {
  /** Stamps `updatedAt`; the system clock by default. */
  readonly clock?: Clock
  /** The default size limit of a value, in UTF-8 bytes of JSON (64 KiB). */
  readonly maxBytes?: number
}

interface StoredState {
  readonly json: string
  readonly version: number
  readonly updatedAt: number
  /** In ms; undefined: never. */
  readonly expiresAt: number | undefined
}

/**
 * A {@link StateStore} in this process's memory, for tests and demos. It behaves as the
 * database store does (versions, conflicts, size limit, validation on put and read) and keeps
 * values as JSON, so what a test reads went through the same round trip.
 *
 * @example
 * ```ts
 * import { MemoryStateStore } from '@mortar/session'
 * import { z } from 'zod'
 *
 * const preferences = new MemoryStateStore().namespace('preferences', z.object({ theme: z.string() }))
 * await preferences.put('user-1', 'ui', { theme: 'dark' })
 * ```
 */
export class MemoryStateStore implements StateStore {
  // Shared by every namespace handle, as the table is in the database store: entries by key,
  // grouped by owner and namespace (a JSON pair, so no separator can be forged).
  readonly #entries = new Map<string, Map<string, StoredState>>()
  readonly #defaults: StateStoreDefaults

  constructor(options: MemoryStateStoreOptions = {}) {
    this.#defaults = new StateStoreDefaults(options)
  }

  namespace<S extends z.ZodType>(
    name: string,
    schema: S,
    options: StateNamespaceOptions = {},
  ): StateNamespace<z.output<S>, z.input<S>> {
    return new MemoryStateNamespace<z.output<S>, z.input<S>>(
      this.#entries,
      this.#defaults.namespace(name, schema, options),
    )
  }

  async prune(): Promise<number> {
    const now = this.#defaults.clock.nowMs()
    let pruned = 0
    for (const [id, group] of this.#entries) {
      for (const [key, stored] of group) {
        if (isExpired(stored, now)) {
          group.delete(key)
          pruned++
        }
      }
      if (group.size === 0) this.#entries.delete(id)
    }
    return pruned
  }
}

function isExpired(stored: StoredState, nowMs: number): boolean {
  return stored.expiresAt !== undefined && stored.expiresAt <= nowMs
}

class MemoryStateNamespace<T, I> implements StateNamespace<T, I> {
  readonly name: string
  readonly #entries: Map<string, Map<string, StoredState>>
  readonly #settings: NamespaceSettings

  constructor(entries: Map<string, Map<string, StoredState>>, settings: NamespaceSettings) {
    this.#entries = entries
    this.name = settings.name
    this.#settings = settings
  }

  async get(owner: string, key: string): Promise<StateEntry<T> | undefined> {
    checkStateIds({ owner, key })
    const stored = this.#live(owner, key)
    return stored === undefined ? undefined : this.#toEntry(key, stored)
  }

  async put(
    owner: string,
    key: string,
    value: I,
    options: StatePutOptions = {},
  ): Promise<StateEntry<T>> {
    checkStateIds({ owner, key })
    // Before any read: a bad ttl is refused as such, never reported as a version conflict.
    checkTtl(options.ttl)
    const { data, json } = encodeState(
      { namespace: this.name, key },
      this.#settings.schema,
      this.#settings.maxBytes,
      value,
    )
    // No await from the read to the write: the check and the save are one step.
    const actualVersion = this.#live(owner, key)?.version ?? 0
    this.#checkVersion(key, options.expectedVersion, actualVersion)
    const updatedAt = this.#settings.clock.nowMs()
    const version = actualVersion + 1
    this.#writableGroup(owner).set(key, {
      json,
      version,
      updatedAt,
      expiresAt: expiresAt(updatedAt, options.ttl),
    })
    return { key, value: data as T, version, updatedAt: new Date(updatedAt) }
  }

  async delete(owner: string, key: string, options: StateDeleteOptions = {}): Promise<boolean> {
    checkStateIds({ owner, key })
    const actualVersion = this.#live(owner, key)?.version ?? 0
    this.#checkVersion(key, options.expectedVersion, actualVersion)
    // An expired entry is already absent: deleting it (early) is no deletion.
    return (this.#group(owner)?.delete(key) ?? false) && actualVersion > 0
  }

  async list(owner: string): Promise<readonly StateEntry<T>[]> {
    checkStateIds({ owner })
    const now = this.#settings.clock.nowMs()
    return [...(this.#group(owner) ?? [])]
      .filter(([, stored]) => !isExpired(stored, now))
      .map(([key, stored]) => this.#toEntry(key, stored))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  #checkVersion(key: string, expected: number | undefined, actualVersion: number): void {
    if (expected === undefined) return
    const expectedVersion = checkExpectedVersion(expected)
    if (expectedVersion !== actualVersion) {
      throw new StateConflictError({ namespace: this.name, key, expectedVersion, actualVersion })
    }
  }

  /** The stored entry, unless it has expired. */
  #live(owner: string, key: string): StoredState | undefined {
    const stored = this.#group(owner)?.get(key)
    return stored === undefined || isExpired(stored, this.#settings.clock.nowMs())
      ? undefined
      : stored
  }

  #group(owner: string): Map<string, StoredState> | undefined {
    return this.#entries.get(JSON.stringify([owner, this.name]))
  }

  #writableGroup(owner: string): Map<string, StoredState> {
    const id = JSON.stringify([owner, this.name])
    let group = this.#entries.get(id)
    if (group === undefined) {
      group = new Map()
      this.#entries.set(id, group)
    }
    return group
  }

  #toEntry(key: string, stored: StoredState): StateEntry<T> {
    return {
      key,
      value: decodeState({ namespace: this.name, key }, this.#settings.schema, stored.json) as T,
      version: stored.version,
      updatedAt: new Date(stored.updatedAt),
    }
  }
}
