import type { DependencyContainer } from 'tsyringe'
import type { RequestScope } from '../context/request-context.js'
import type { Key } from '../di/token.js'
import type { Logger } from '../logger/logger.js'

/** Where an {@link App} is in its life. */
export type AppState = 'created' | 'starting' | 'started' | 'stopping' | 'stopped'

/** Options of {@link App.stop}. */
export interface StopOptions {
  /** Deadline for each module's `onStop`, in milliseconds (default 10,000). */
  readonly timeoutMs?: number
}

/**
 * A composed application: modules registered into one container, started and stopped in order.
 * Create it with `createApp`.
 */
export interface App<C = undefined> {
  /** The config object given to `createApp`, also bound under the `APP_CONFIG` token. */
  readonly config: C
  readonly state: AppState
  /** The root tsyringe container, for code that needs tsyringe directly. */
  readonly container: DependencyContainer
  readonly logger: Logger
  /** Checks the dependency graph, awaits async factories, then runs each module's `onStart` in order. */
  start(): Promise<void>
  /** Runs each module's `onStop` in reverse order, each with a deadline. Idempotent. */
  stop(options?: StopOptions): Promise<void>
  /** Resolves a singleton or transient provider (scoped ones need a request scope). */
  resolve<T>(key: Key<T>): T
  /** A child scope for one request or job; HTTP adapters create one per request. */
  createScope(): RequestScope
  /** Makes SIGTERM and SIGINT call `stop()`; returns a function that removes the handlers. */
  handleSignals(options?: StopOptions): () => void
}
