import { envValue } from '../config/environment.js'
import { pino } from 'pino'
import { ConfigError } from '../config/config-error.js'
import type { Logger } from './logger.js'
import { asData } from './as-data.js'
import { censorJson } from './censor-json.js'

/** The levels a {@link Logger} can be set to, from most to least verbose. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

/** Where log lines go: anything with a `write(line)` method, such as a file or a `Writable`. */
export interface LogDestination {
  write(line: string): unknown
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written; by default `LOG_LEVEL`, else `silent` under tests, else `info`. */
  readonly level?: LogLevel
  /** Added to every line as `name`. */
  readonly name?: string
  /** Where lines are written; stdout by default. Tests pass a stream to read the output. */
  readonly destination?: LogDestination
  /** Extra pino redaction paths, added to {@link DEFAULT_REDACT_PATHS}. */
  readonly redact?: readonly string[]
  /** Environment read for `LOG_LEVEL`, `NODE_ENV` and `VITEST`; `process.env` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>
}

const SENSITIVE_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'authorization',
  'cookie',
  '["set-cookie"]',
  'creditCard',
  'cardNumber',
  'cvv',
]

/**
 * Paths every {@link createLogger} logger censors as `[redacted]`: common secret field names at
 * the top level and one level down, and the credential headers of a request or response. The
 * same names are also censored at any depth and in any case or spelling (`api_key`,
 * `Authorization`, `X-Api-Key`) in the line as written.
 */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  ...SENSITIVE_KEYS,
  ...SENSITIVE_KEYS.map((key) => (key.startsWith('[') ? `*${key}` : `*.${key}`)),
  ...['headers', '*.headers'].flatMap((at) => [
    `${at}.authorization`,
    `${at}.cookie`,
    `${at}["set-cookie"]`,
    `${at}["proxy-authorization"]`,
    `${at}["x-api-key"]`,
  ]),
]

/**
 * Creates the app's {@link Logger}, backed by pino: JSON lines, common secret paths censored
 * (see {@link DEFAULT_REDACT_PATHS}), and `Secret` values written as `[secret]`.
 *
 * The level is `options.level`, else the `LOG_LEVEL` variable, else `silent` when `NODE_ENV` is
 * `test` or under Vitest, else `info`. An unknown `LOG_LEVEL` fails with a `ConfigError`.
 *
 * @example
 * ```ts
 * import { createLogger } from '@mortar/core'
 *
 * const logger = createLogger({ name: 'shop', redact: ['payment.iban'] })
 * logger.info({ userId: 'u1', password: 'hunter2' }, 'signed in') // password: "[redacted]"
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? levelFromEnv(options.env ?? process.env)
  const instance = pino(
    {
      level,
      ...(options.name === undefined ? {} : { name: options.name }),
      redact: { paths: [...DEFAULT_REDACT_PATHS, ...(options.redact ?? [])], censor: '[redacted]' },
      hooks: {
        // The logged object's fields kept as data, `__proto__` included (see asData).
        // A logged value whose getters or traps throw writes the message alone: a log call
        // reports a failure and must not throw one of its own.
        logMethod(args, method) {
          try {
            if (typeof args[0] === 'object') args[0] = asData(args[0]) as never
            return method.apply(this, args)
          } catch {
            const message = args.find((arg) => typeof arg === 'string') ?? ''
            return method.call(this, { logged: 'unreadable: reading its fields threw' }, message)
          }
        },
        // Paths cannot reach inside a text (a driver's error quotes the URL it failed on,
        // `connect to postgres://admin:hunter2@db/prod`), nor past two levels or one spelling of
        // a name (`body.user.password`, `Authorization`), so the censors run on the line as
        // written: whatever put a secret field or a URL there (a field at any depth, a message,
        // a format argument, an error's cause, a child's bindings), it never reaches the
        // destination.
        streamWrite: censorJson,
      },
    },
    options.destination,
  )
  return instance
}

function levelFromEnv(env: Readonly<Record<string, string | undefined>>): LogLevel {
  const configured = envValue(env, 'LOG_LEVEL')?.trim().toLowerCase()
  if (configured !== undefined) {
    if (isLogLevel(configured)) return configured
    throw new ConfigError([
      {
        envVar: 'LOG_LEVEL',
        path: 'logLevel',
        reason: `must be one of: ${LEVELS.join(', ')}`,
        secret: false,
      },
    ])
  }
  if (env.NODE_ENV === 'test' || env.VITEST) return 'silent'
  return 'info'
}

function isLogLevel(value: string): value is LogLevel {
  return (LEVELS as readonly string[]).includes(value)
}
