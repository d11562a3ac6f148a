const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  // MariaDB shutting down or the connection killed (a failover), or taking no writes: read_only
  // during a switchover, a read-only transaction or InnoDB.
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION',
  'ER_READ_ONLY_MODE',
  'E_DATABASE_UNREACHABLE',
  // PostgreSQL: shutting down, starting up, too many connections, serialization, deadlock.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '40001',
  '40P01',
  // PostgreSQL taking no writes (a demoted primary, a standby still behind the writer's name
  // after a failover), out of disk or memory, or a lock not granted in time.
  '25006',
  '53000',
  '53100',
  '53200',
  '55P03',
])

const TRANSIENT_MESSAGES =
  /connection terminated|connection error|timeout exceeded when trying to connect|database is locked|server closed the connection|socket hang up|connect ECONNREFUSED/i

/**
 * Whether a database error may pass by itself: the server is unreachable, restarting, out of
 * connections, disk or memory, taking no writes for a failover, or a lock was lost. The buffer retries those without limit (up to its
 * capacity); anything else (a missing table, a value too long) a few times, then reports the
 * batch as dropped.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  for (let current = error, depth = 0; current != null && depth < 5; depth++) {
    const { code, message, cause, errors } = current as {
      code?: unknown
      message?: unknown
      cause?: unknown
      errors?: unknown
    }
    if (typeof code === 'string' && (TRANSIENT_CODES.has(code) || code.startsWith('08'))) {
      return true
    }
    // node:sqlite reports a busy database as errcode 5 (SQLITE_BUSY).
    if ((current as { errcode?: unknown }).errcode === 5) return true
    if (typeof message === 'string' && TRANSIENT_MESSAGES.test(message)) return true
    current = cause ?? (Array.isArray(errors) ? errors[0] : undefined)
  }
  return false
}
