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

/** Creates a {@link Token}; `name` appears in every error that mentions it. */
export function token<T>(name: string): Token<T> {
  return Symbol(name) as Token<T>
}

/** A readable name for a key, for error messages. */
export function keyName(key: unknown): string {
  if (typeof key === 'symbol') return `token '${key.description ?? 'anonymous'}'`
  if (typeof key === 'function') return `class ${key.name || 'anonymous'}`
  return String(key)
}
