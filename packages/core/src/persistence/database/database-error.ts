import { MortarError, type MortarErrorOptions } from '../../errors/index.js'
import { thrownText } from '../../errors/thrown-text.js'

/** The stable codes a {@link DatabaseError} carries. */
export type DatabaseErrorCode =
  /** No URL, an unknown scheme, a malformed URL or a bad option. */
  | 'E_DATABASE_URL'
  /** The driver package (`pg`, `mysql2`) is not installed, or Node has no `node:sqlite` (before 22.13). */
  | 'E_DATABASE_DRIVER'
  /** The server did not answer: refused, unknown host, timed out. */
  | 'E_DATABASE_UNREACHABLE'
  /** The server answered but refused the connection (credentials, missing database). */
  | 'E_DATABASE_CONNECT'
  /** A Kysely plugin that puts tables in a schema, which raw SQL would not follow; name the schema in the URL. */
  | 'E_DATABASE_PLUGIN'
  /** A transaction was used in a way the engine cannot do. */
  | 'E_TRANSACTION'
  /** A joined transaction failed and was caught, so the transaction rolled back instead of committing. */
  | 'E_TRANSACTION_ROLLBACK_ONLY'
  /** A migration failed or the migration history does not match the code. */
  | 'E_MIGRATION'
  /** An applied migration was renamed in the code; running it under its new name would apply it twice. */
  | 'E_MIGRATION_RENAMED'
  /** In production, the app started with migrations not applied and did not migrate itself. */
  | 'E_MIGRATIONS_PENDING'

/**
 * A database could not be configured, reached or migrated. The message names the engine and
 * host and says what to do; it never contains the password, and neither does its `cause`
 * (driver errors are copied with secrets removed).
 *
 * @example
 * ```ts
 * import { DatabaseError } from '@mortar/core'
 *
 * try {
 *   await app.start()
 * } catch (error) {
 *   if (error instanceof DatabaseError && error.code === 'E_DATABASE_UNREACHABLE') process.exit(69)
 *   throw error
 * }
 * ```
 */
export class DatabaseError extends MortarError {
  declare readonly code: DatabaseErrorCode

  constructor(code: DatabaseErrorCode, message: string, options?: MortarErrorOptions) {
    super(code, code === 'E_DATABASE_UNREACHABLE' ? 503 : 500, message, options)
  }
}

/**
 * Copies a driver error without anything secret: its message and stack have every secret
 * replaced, and its own `cause` chain is copied the same way.
 */
export function scrubError(error: unknown, secrets: readonly string[]): Error {
  const source = error instanceof Error ? error : new Error(thrownText(error))
  const copy = new Error(scrub(thrownText(source), secrets))
  copy.name = source.name
  copy.stack = scrub(stackOf(source) ?? '', secrets)
  const fields = source as unknown as Record<string, unknown>
  for (const key of ['code', 'errno', 'syscall', 'address', 'port', 'hostname']) {
    const value = fields[key]
    if (typeof value === 'string' || typeof value === 'number') {
      ;(copy as unknown as Record<string, unknown>)[key] =
        typeof value === 'string' ? scrub(value, secrets) : value
    }
  }
  if (source.cause !== undefined) copy.cause = scrubError(source.cause, secrets)
  if (source instanceof AggregateError) {
    return Object.assign(
      new AggregateError(
        source.errors.map((inner) => scrubError(inner, secrets)),
        copy.message,
      ),
      { stack: copy.stack, name: copy.name, cause: copy.cause },
    )
  }
  return copy
}

/** Its stack, if it can be read: formatting it (lazily, on first read) throws for a message with no text form. */
function stackOf(error: Error): string | undefined {
  try {
    return error.stack
  } catch {
    return undefined
  }
}

function scrub(text: string, secrets: readonly string[]): string {
  let result = text
  for (const secret of secrets) {
    if (secret.length > 0) result = result.split(secret).join('***')
  }
  return result
}
