import { processGlobal } from '../global/index.js'

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

/** Options of {@link token} and {@link globalToken}. */
export interface TokenOptions {
  /**
   * What to do when nothing binds the token, in the start-up error and at resolution: name the
   * module that binds it, such as `'add databaseSessionRegistry() to createApp({ modules })'`.
   */
  readonly whenMissing?: string
}

// One map per process, so the ESM and CJS builds of core read the same hints.
const hints = processGlobal('mortar.tokenHints', () => new Map<symbol, string>())

/**
 * Creates a {@link Token}, unique even among tokens of the same name; `name` appears in every
 * error that mentions it, and `options.whenMissing` in the error raised when nothing binds it.
 * For a token a published package exports, use {@link globalToken}.
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
  return withHint(Symbol(name) as Token<T>, options)
}

/**
 * Creates the process-wide {@link Token} named `name`: every call with the same name returns the
 * same symbol (`Symbol.for`). A package shipped as ESM and CJS evaluates its modules once per
 * build, and an app can load both (an ESM app with a CommonJS plugin or test runner): a plain
 * {@link token} would then be two tokens, one bound, one resolved ("nothing is bound to …").
 * Every Mortar package declares its tokens this way; do the same for a package you publish, and
 * put its name in the token's so no other package can pick the same one.
 *
 * @example
 * ```ts
 * import { globalToken } from '@mortar/core'
 *
 * interface SmsGateway { send(to: string, text: string): Promise<void> }
 * export const SMS_GATEWAY = globalToken<SmsGateway>('@acme/mortar-sms.gateway')
 * ```
 */
export function globalToken<T>(name: string, options: TokenOptions = {}): Token<T> {
  return withHint(Symbol.for(name) as Token<T>, options)
}

function withHint<T>(created: Token<T>, options: TokenOptions): Token<T> {
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
