import { inspect } from 'node:util'
import { processGlobal } from '../global/index.js'
import type { z } from 'zod'

const HIDDEN = '[secret]'
const BRAND = Symbol.for('mortar.secret')

/**
 * A value that must never be shown: it prints as `[secret]` in template strings, `JSON.stringify`
 * (so in pino logs), `util.inspect` and `console.log`. Call {@link Secret.reveal} where the value
 * is really used, such as when signing a cookie or opening a connection.
 *
 * @example
 * ```ts
 * import { defineConfig, secret } from '@mortar/core'
 * import { z } from 'zod'
 *
 * const config = defineConfig(z.object({ sessionSecret: secret(z.string().min(32)) }))
 * console.log(`${config.sessionSecret}`) // [secret]
 * const key = config.sessionSecret.reveal()
 * ```
 */
export class Secret<T = string> {
  readonly #value: T

  constructor(value: T) {
    this.#value = value
  }

  /** True for a {@link Secret}, including one from another copy of `@mortar/core`. */
  static isSecret(value: unknown): value is Secret<unknown> {
    return (
      value instanceof Secret ||
      (typeof value === 'object' &&
        value !== null &&
        (value as Record<symbol, unknown>)[BRAND] === true)
    )
  }

  // Lets ESM and CJS copies of this class recognise each other's secrets.
  get [BRAND](): true {
    return true
  }

  /** The wrapped value. Use it, never log it. */
  reveal(): T {
    return this.#value
  }

  toString(): string {
    return HIDDEN
  }

  toJSON(): string {
    return HIDDEN
  }

  [Symbol.toPrimitive](): string {
    return HIDDEN
  }

  [inspect.custom](): string {
    return HIDDEN
  }
}

// The transform step of each schema made by `secret()`, whichever build of core made it. The
// transform, not the pipe, is recorded: `.describe()`, `.meta()`, `.refine()` and `.check()`
// return a copy of the pipe that shares its steps, and that copy must stay a secret.
const secretTransforms = processGlobal('mortar.secretTransforms', () => new WeakSet<object>())

/** The schema {@link secret} returns: it validates like `S`, then wraps the value in a {@link Secret}. */
export type SecretSchema<S extends z.ZodType> = z.ZodPipe<
  S,
  z.ZodTransform<Secret<z.output<S>>, z.output<S>>
>

/**
 * Marks a config value as secret: it is validated by `schema` (length, format), then wrapped in a
 * {@link Secret}, and errors about it never contain the received value.
 *
 * @example
 * ```ts
 * import { defineConfig, secret } from '@mortar/core'
 * import { z } from 'zod'
 *
 * const config = defineConfig(z.object({ sessionSecret: secret(z.string().min(32)) }), {
 *   prefix: 'SHOP_',
 * })
 * // SHOP_SESSION_SECRET too short → "SHOP_SESSION_SECRET: must be at least 32 characters"
 * ```
 */
export function secret<S extends z.ZodType>(schema: S): SecretSchema<S> {
  const wrapped = schema.transform((value) => new Secret(value))
  secretTransforms.add(wrapped._zod.def.out)
  return wrapped
}

/** True when `schema` was made by {@link secret}, or is a copy of one. */
export function isSecretSchema(schema: z.ZodType): boolean {
  const def = schema._zod.def
  return def.type === 'pipe' && secretTransforms.has((def as z.core.$ZodPipeDef).out)
}
