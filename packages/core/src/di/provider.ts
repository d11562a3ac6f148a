import type { Constructor, Key, Resolved } from './token.js'

/**
 * How long a provider's instance lives: one for the whole app (`'singleton'`, the default), one
 * per request scope (`'scoped'`), or a new one on every resolution (`'transient'`). A singleton
 * may not depend on a scoped provider, even through transients: start refuses it.
 *
 * @example
 * ```ts
 * import { defineModule } from '@mortar/core'
 *
 * class UnitOfWork {}
 * export const dbModule = defineModule({
 *   name: 'db',
 *   register: (binder) => binder.bind(UnitOfWork, { lifetime: 'scoped' }),
 * })
 * ```
 */
export type Lifetime = 'singleton' | 'scoped' | 'transient'

/** Binds a key to a value made elsewhere; it lives as long as the app. */
export interface ValueProvider<T> {
  readonly useValue: T
}

/** Binds a key to a class that the container constructs, injecting its constructor parameters. */
export interface ClassProvider<T> {
  readonly useClass: Constructor<T>
  readonly lifetime?: Lifetime
}

/** The values a tuple of keys resolves to, in order. */
export type ResolvedKeys<D extends readonly Key<unknown>[]> = {
  -readonly [I in keyof D]: Resolved<D[I]>
}

/**
 * Binds a key to a factory. Its parameters are the keys listed in `inject`, resolved in order
 * and typed from that tuple. A singleton factory may be async: start awaits it, and the key then
 * resolves to its result; a scoped or transient factory must be synchronous.
 *
 * @example
 * ```ts
 * import { APP_CONFIG, LOGGER, token } from '@mortar/core'
 *
 * interface Pool { query(sql: string): Promise<unknown> }
 * export const POOL = token<Pool>('db.pool')
 *
 * binder.bind(POOL, {
 *   inject: [APP_CONFIG, LOGGER],
 *   useFactory: async (config, logger) => connect(config.databaseUrl, logger),
 * })
 * ```
 */
export interface FactoryProvider<T, D extends readonly Key<unknown>[] = readonly []> {
  readonly useFactory: (...deps: ResolvedKeys<D>) => T | Promise<T>
  readonly inject?: D
  readonly lifetime?: Lifetime
}

/** Options of the self-binding shortcut `binder.bind(Class, { lifetime })`. */
export interface SelfBindingOptions {
  readonly lifetime?: Lifetime
}

/** Anything a key can be bound to. */
export type Provider<T, D extends readonly Key<unknown>[] = readonly Key<unknown>[]> =
  | ValueProvider<T>
  | ClassProvider<T>
  | FactoryProvider<T, D>
