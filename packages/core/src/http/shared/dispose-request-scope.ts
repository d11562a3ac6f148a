import type { RequestContext } from '../../context/index.js'
import type { AdapterApp } from './adapter-app.js'

/**
 * Disposes a request's scope once its response is over, if it has one. Nobody waits on it: a
 * disposer that fails is logged with the request id, never thrown into a finished response.
 */
export function disposeRequestScope(app: AdapterApp, context: RequestContext): void {
  if (!context.hasScope) {
    // Ended all the same: a scope that work left running makes later would be disposed by nobody.
    void context.dispose()
    return
  }
  context.dispose().catch((error: unknown) => {
    app.logger.error(
      { err: error, requestId: context.requestId },
      'Disposing the request scope failed',
    )
  })
}
