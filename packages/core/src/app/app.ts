import type { DependencyContainer } from 'tsyringe'
import type { RequestScope } from '../context/request-context.js'
import type { Key } from '../di/token.js'
import type { Logger } from '../logger/logger.js'
import type { AppHealth, MigrateOptions } from '../persistence/database/app-database.js'
import type { MigrationReport, MigrationStatus } from '../persistence/migrations/index.js'

/** Where an {@link App} is in its life. */
export type AppState = 'created' | 'starting' | 'started' | 'stopping' | 'stopped'

/** Options of {@link App.stop}. */
export interface StopOptions {
  /** Deadline for each module's `onStop`, in milliseconds (default 10,000; 0 to 2^31 − 1). */
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
  /**
   * Makes SIGTERM, SIGINT and SIGHUP call `stop(options)`, then exit the process: with code 0
   * when every module stopped cleanly, 1 when one failed or missed its deadline. Signals during
   * the shutdown are logged and ignored (see `stopOnSignals`). Returns a function that removes
   * the handlers.
   */
  handleSignals(options?: StopOptions): () => void
  /**
   * Applies the modules' pending migrations in module order (or, with `{ direction: 'down' }`,
   * reverts the newest), under a lock so concurrent processes apply each once. Works before
   * `start()`; returns what ran.
   */
  migrate(options?: MigrateOptions): Promise<MigrationReport>
  /** Every migration of the app's modules, with when it was applied. */
  migrationStatus(): Promise<MigrationStatus[]>
  /** `{ status, checks: { database: { status, latencyMs } } }`; never throws. */
  health(): Promise<AppHealth>
}

/**
 * The part of an {@link App} an HTTP adapter uses: a scope per request and the logger. Adapters
 * for other frameworks take this, so they can be tested with a small stand-in.
 */
export type AdapterApp = Pick<App<unknown>, 'createScope' | 'logger'>
