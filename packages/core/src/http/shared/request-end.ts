import type { RequestContext } from '../../context/index.js'
import type { AdapterApp } from './adapter-app.js'
import { disposeRequestScope } from './dispose-request-scope.js'

/**
 * Ends a request's context once its response is over and no handler of it is still running,
 * whichever comes last. A client that goes away closes the response while the handler may still
 * run: the scope it resolved from (a transaction, a session) stays until the handler is done with
 * it; the adapter aborts the context's signal at once, so the handler hears that the client left.
 */
export class RequestEnd {
  readonly #app: AdapterApp
  readonly #context: RequestContext
  #running: number
  #responseOver = false

  /** `running`: how many handlers run when the request starts (1 where the adapter calls it). */
  constructor(app: AdapterApp, context: RequestContext, running: number) {
    this.#app = app
    this.#context = context
    this.#running = running
  }

  /** Whether the response is over (finished, or closed by the client). */
  get responseOver(): boolean {
    return this.#responseOver
  }

  /** A handler starts: the context outlives the response until it settles. */
  handlerStarted(): void {
    this.#running += 1
  }

  /** A handler settled (or, where the adapter cannot see it settle, ended its response). */
  handlerSettled(): void {
    if (this.#running === 0) return
    this.#running -= 1
    if (this.#running === 0 && this.#responseOver) disposeRequestScope(this.#app, this.#context)
  }

  /** The response finished, or the client went away. */
  responseClosed(): void {
    if (this.#responseOver) return
    this.#responseOver = true
    if (this.#running === 0) disposeRequestScope(this.#app, this.#context)
  }
}
