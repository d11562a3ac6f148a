import { MortarError, type MortarErrorOptions } from '../errors/index.js'

/** The stable codes a {@link RedisError} carries. */
export type RedisErrorCode =
  /** A malformed `redis` setting: not a `redis://` or `rediss://` URL, a bad database or prefix. */
  | 'E_REDIS_URL'
  /** The `ioredis` package is not installed. */
  | 'E_REDIS_DRIVER'
  /** The server did not answer or refused the connection. */
  | 'E_REDIS_UNREACHABLE'

/**
 * The app's Redis could not be configured or reached. The message names the host and says what
 * to do; it never contains the password.
 *
 * @example
 * ```ts
 * import { RedisError } from '@mortar/core'
 *
 * try {
 *   await app.start()
 * } catch (error) {
 *   if (error instanceof RedisError && error.code === 'E_REDIS_UNREACHABLE') process.exit(69)
 *   throw error
 * }
 * ```
 */
export class RedisError extends MortarError {
  declare readonly code: RedisErrorCode

  constructor(code: RedisErrorCode, message: string, options?: MortarErrorOptions) {
    super(code, code === 'E_REDIS_UNREACHABLE' ? 503 : 500, message, options)
  }
}
