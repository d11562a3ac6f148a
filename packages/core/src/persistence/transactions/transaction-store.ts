import { processGlobal } from '../../global/index.js'
import { AsyncLocalStorage } from 'node:async_hooks'

/** One open transaction or savepoint of one database, as seen by the code running inside it. */
export interface TransactionFrame {
  /** The database the transaction belongs to (a `Database`, compared by identity). */
  readonly owner: object
  /** Kysely's controlled transaction (or savepoint) for this frame. */
  readonly trx: unknown
  /** `afterCommit` callbacks registered in this frame. */
  readonly callbacks: Array<() => unknown>
  /** `beforeCommit` callbacks registered in this frame. */
  readonly beforeCommit: Array<() => unknown>
  /**
   * Internal: run when the work of this frame is undone (its savepoint or its transaction rolls
   * back), for state kept outside the database that must go with it (the inline queue's key
   * reservations). Synchronous, and must not throw.
   */
  readonly rollbacks: Array<() => void>
  /** The enclosing frame, of this or another database. */
  readonly parent: TransactionFrame | undefined
  /** The outermost frame of this transaction; holds the savepoint counter. */
  readonly root: TransactionFrame | undefined
  savepoints: number
  /**
   * Set when a joined transaction failed inside this frame: its work is half done, so the frame
   * may only roll back (as Spring marks a transaction rollback-only). Holds the failure.
   */
  rollbackOnly: { readonly cause: unknown } | undefined
}

// One store per process even when both the ESM and the CJS build of core are loaded.
export const transactionStorage = processGlobal(
  'mortar.transaction',
  () => new AsyncLocalStorage<TransactionFrame | undefined>(),
)

/** The innermost open frame of `owner`, or `undefined` outside its transactions. */
export function findFrame(owner: object): TransactionFrame | undefined {
  let frame = transactionStorage.getStore()
  while (frame !== undefined && frame.owner !== owner) frame = frame.parent
  return frame
}

// Apps register their database at start and remove it when it is destroyed; the last one is
// the default of `transaction()`. Process-wide so the ESM and the CJS build share it.
export const defaultDatabases = processGlobal('mortar.defaultDatabases', (): object[] => [])

/** Removes the last registration of `database` as a default. */
export function removeDefaultDatabase(database: object): void {
  const index = defaultDatabases.lastIndexOf(database)
  if (index !== -1) defaultDatabases.splice(index, 1)
}
