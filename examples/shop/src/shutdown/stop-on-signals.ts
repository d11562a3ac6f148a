import type { Logger } from '@mortar/core'

// A deployment's SIGTERM, a terminal's Ctrl-C and its closing (SIGHUP): each ends the process
// at once by Node's default, unless a handler is listening.
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const

/**
 * Stops the shop on the first stop signal: `stop()` closes the server and then the app, which
 * writes the buffered analytics events, and the process exits. The handlers stay for the whole
 * shutdown, and later signals are logged and ignored: with `process.once`, a second Ctrl-C found
 * no handler, so Node's default ended the process mid-flush and the buffered events were lost.
 */
export function stopOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'shop: already shutting down, writing what is buffered')
      return
    }
    stopping = true
    logger.info({ signal }, 'shop: shutting down')
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shop: shutdown failed')
        process.exit(1)
      },
    )
  }
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal)
}
