/**
 * True when the server failed this statement to end a deadlock: MariaDB/MySQL (errno 1213) or
 * PostgreSQL (40P01). Outside a transaction the statement was rolled back whole and may be run
 * again; inside one, the whole transaction is gone (MariaDB rolls it back), so it is the
 * transaction's owner who may retry.
 *
 * @example
 * ```ts
 * import { isDeadlock } from '@mortar/core'
 *
 * try {
 *   await db.deleteFrom('session').where('user_id', '=', userId).execute()
 * } catch (error) {
 *   if (!isDeadlock(error)) throw error
 *   await db.deleteFrom('session').where('user_id', '=', userId).execute()
 * }
 * ```
 */
export function isDeadlock(error: unknown): boolean {
  const { errno, code } = (error ?? {}) as { errno?: unknown; code?: unknown }
  return errno === 1213 || code === '40P01'
}
