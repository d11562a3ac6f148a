declare const tokenType: unique symbol

/**
 * A typed injection token. It is a plain symbol at run time, so tsyringe's `@inject(token)`
 * accepts it, and it carries the type it resolves to, so `app.resolve(token)` is typed.
 *
 * @example
 * ```ts
 * import { token } from '@mortar/core'
 *
 * interface Mailer { send(to: string, body: string): Promise<void> }
 * export const MAILER = token<Mailer>('mailer')
 * ```
 */
export type Token<T> = symbol & { readonly [tokenType]?: T }

/** A class that can be constructed by the container. */
export type Constructor<T> = new (...args: never[]) => T

/** Anything a provider can be bound to and resolved by: a {@link Token} or a class. */
export type Key<T> = Token<T> | Constructor<T>

/** The type a {@link Key} resolves to. */
export type Resolved<K> = K extends Token<infer T> ? T : K extends Constructor<infer T> ? T : never

/** Options of {@link token}. */
export interface TokenOptions {
  /**
   * What to do when nothing binds the token, in the start-up error and at resolution: name the
   * module that binds it, such as `'add databaseSessionRegistry() to createApp({ modules })'`.
   */
  readonly whenMissing?: string
}

// One map per process, so the ESM and CJS builds of core read the same hints.
const HINTS_KEY = Symbol.for('mortar.tokenHints')
const global = globalThis as unknown as Record<symbol, Map<symbol, string> | undefined>
global[HINTS_KEY] ??= new Map()
const hints: Map<symbol, string> = global[HINTS_KEY]

/**
 * Creates a {@link Token}; `name` appears in every error that mentions it, and
 * `options.whenMissing` in the error raised when nothing binds it.
 *
 * @example
 * ```ts
 * import { token } from '@mortar/core'
 *
 * interface Mailer { send(to: string, body: string): Promise<void> }
 * export const MAILER = token<Mailer>('mailer', { whenMissing: 'add mailModule() to createApp({ modules })' })
 * ```
 */
export function token<T>(name: string, options: TokenOptions = {}): Token<T> {
  const created = Symbol(name) as Token<T>
  if (options.whenMissing !== undefined) hints.set(created, options.whenMissing)
  return created
}

/** What to do about a key that nothing binds: the token's own hint, or the general advice. */
export function whenMissing(key: unknown): string {
  return (
    (typeof key === 'symbol' ? hints.get(key) : undefined) ??
    "bind it in a module's register() (binder.bind(...)) or add the module that does"
  )
}

/** A readable name for a key, for error messages. */
export function keyName(key: unknown): string {
  if (typeof key === 'symbol') return `token '${key.description ?? 'anonymous'}'`
  if (typeof key === 'function') return `class ${key.name || 'anonymous'}`
  return String(key)
}
