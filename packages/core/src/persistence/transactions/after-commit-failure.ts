/**
 * An `afterCommit` callback that failed after its transaction committed: the payload of the
 * `mortar.after_commit_failed` event. The transaction's call resolved (the data is saved), so
 * whatever the callback was to do (a mail, a cache purge) needs another way to happen: a
 * subscriber can alert, or retry it.
 *
 * @example
 * ```ts
 * import { EVENT_BUS } from '@mortar/core'
 *
 * app.resolve(EVENT_BUS).subscribe('mortar.after_commit_failed', ({ code, error }) => {
 *   alerts.raise(code, error)
 * })
 * ```
 */
export interface AfterCommitFailure {
  readonly code: 'E_AFTER_COMMIT'
  /** What the callback threw. */
  readonly error: unknown
  /** The database whose transaction committed, as it may be logged (no password). */
  readonly database: string
}
