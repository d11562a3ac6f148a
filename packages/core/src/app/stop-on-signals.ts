import type { Logger } from '../logger/logger.js'

// A deployment's SIGTERM, a terminal's Ctrl-C and its closing (SIGHUP): each ends the process
// at once by Node's default, unless a handler is listening.
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const

/**
 * Calls `stop` on the first SIGTERM, SIGINT or SIGHUP, then exits the process: with code 0 when
 * `stop` resolves, 1 when it rejects. The handlers stay for the whole shutdown and later signals
 * are logged and ignored: without a handler, a second Ctrl-C (or the terminal closing) meets
 * Node's default and ends the process mid-flush, losing what was buffered. Returns a function
 * that removes the handlers. `app.handleSignals()` is this with `app.stop()`; call it yourself
 * when something must stop before the app, such as an HTTP server.
 *
 * @example
 * ```ts
 * import { stopOnSignals } from '@mortar/core'
 *
 * stopOnSignals(async () => {
 *   await server.close() // no request runs against a stopped app
 *   await app.stop()
 * }, app.logger)
 * ```
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): () => void {
  return onStopSignal((signal) => {
    logger.info({ signal }, `Received ${signal}; stopping`)
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, 'Did not stop cleanly')
        process.exit(1)
      },
    )
  }, logger)
}

/**
 * Calls `first` on the first stop signal; later ones are logged and ignored until the returned
 * function removes the handlers, when the shutdown is over.
 */
export function onStopSignal(first: (signal: NodeJS.Signals) => void, logger: Logger): () => void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, `Received ${signal}; already stopping, ignored`)
      return
    }
    stopping = true
    first(signal)
  }
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal)
  return () => {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal)
  }
}
