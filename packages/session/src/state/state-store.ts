import { type Token, globalToken } from '@mortar/core'
import type { z } from 'zod'

/** One stored value with its version, as a {@link StateNamespace} returns it. */
export interface StateEntry<T> {
  readonly key: string
  readonly value: T
  /** 1 after the first save, one more after each; pass it back as `expectedVersion`. */
  readonly version: number
  readonly updatedAt: Date
}

/** Options of {@link StateNamespace.put}. */
export interface StatePutOptions {
  /**
   * The version read before changing the value: the save fails with `StateConflictError` if
   * someone saved in between. 0 means "only if absent". Omit it for last-write-wins.
   */
  readonly expectedVersion?: number
  /**
   * Seconds this save lives: after that the entry reads as absent everywhere (a versioned save
   * expecting its version is a conflict) and {@link StateStore.prune} deletes it. Each save sets
   * its own, so saving again extends it; omitted, the entry never expires.
   */
  readonly ttl?: number
}

/** Options of {@link StateNamespace.delete}. */
export interface StateDeleteOptions {
  /**
   * Deletes only if the stored version is still this one, else `StateConflictError` (also when
   * the entry is gone). 0 expects no entry: `false` if there is none, a conflict if there is.
   */
  readonly expectedVersion?: number
}

/** Options of {@link StateStore.namespace}. */
export interface StateNamespaceOptions {
  /** The largest value accepted, in UTF-8 bytes of JSON; the store's default (64 KiB) if omitted. */
  readonly maxBytes?: number
}

/**
 * The values of one namespace (preferences, saved games), typed by its zod schema: `put`
 * validates before saving, reads validate what was stored. Keys are per owner (a user id, an
 * anonymous visitor id).
 *
 * @example
 * ```ts
 * import { STATE_STORE } from '@mortar/session'
 * import { z } from 'zod'
 *
 * const preferences = app.resolve(STATE_STORE).namespace('preferences', z.object({
 *   theme: z.enum(['light', 'dark']).default('light'),
 * }))
 * const saved = await preferences.put(userId, 'ui', { theme: 'dark' })
 * await preferences.put(userId, 'ui', { theme: 'light' }, { expectedVersion: saved.version })
 * ```
 */
export interface StateNamespace<T, I = T> {
  readonly name: string
  /** The entry, or undefined; `StateCorruptedError` if what is stored no longer fits the schema. */
  get(owner: string, key: string): Promise<StateEntry<T> | undefined>
  /**
   * Validates and saves `value`, returning the new entry. Throws core's `ValidationError` when
   * it does not fit the schema, `StateTooLargeError` over the size limit, and
   * `StateConflictError` when `expectedVersion` is stale. A conditional save is atomic: of
   * concurrent saves with the same `expectedVersion`, exactly one wins.
   */
  put(owner: string, key: string, value: I, options?: StatePutOptions): Promise<StateEntry<T>>
  /** Deletes the entry; true if there was one. */
  delete(owner: string, key: string, options?: StateDeleteOptions): Promise<boolean>
  /** The owner's entries in this namespace, by key. */
  list(owner: string): Promise<readonly StateEntry<T>[]>
}

/**
 * Per-owner JSON state, split into namespaces that each have a zod schema. The built-in one is
 * {@link KyselyStateStore} on the app database, bound by {@link stateModule}.
 *
 * @example
 * ```ts
 * import { STATE_STORE } from '@mortar/session'
 * import { z } from 'zod'
 *
 * const games = app.resolve(STATE_STORE).namespace('games', z.object({ board: z.string() }))
 * const game = await games.get(userId, 'current')
 * ```
 */
export interface StateStore {
  /** A typed handle on one namespace; `name` is 1–100 letters, digits, `.`, `_` or `-`. */
  namespace<S extends z.ZodType>(
    name: string,
    schema: S,
    options?: StateNamespaceOptions,
  ): StateNamespace<z.output<S>, z.input<S>>
  /**
   * Deletes expired entries of every namespace, in bounded batches, and returns how many;
   * {@link stateModule} runs it hourly, so entries saved with a `ttl` do not pile up.
   */
  prune(): Promise<number>
}

/**
 * The token of the app's {@link StateStore}, bound by {@link stateModule}.
 *
 * @example
 * ```ts
 * import { STATE_STORE } from '@mortar/session'
 *
 * const state = app.resolve(STATE_STORE)
 * ```
 */
export const STATE_STORE: Token<StateStore> = globalToken<StateStore>('mortar.session.state')
