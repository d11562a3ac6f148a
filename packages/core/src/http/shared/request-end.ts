import type { RequestContext } from '../../context/index.js'
import { describeOption, MAX_TIMER_MS } from '../../validation/number-in.js'
import type { AdapterApp } from './adapter-app.js'
import { disposeRequestScope } from './dispose-request-scope.js'

/** How long a request's unsettled work keeps its scope once the response is over: 30 s. */
const DEFAULT_SCOPE_GRACE_MS = 30_000

/** Checks an adapter's `scopeGraceMs` option and fills the default; a bad one fails at set-up. */
export function resolveScopeGraceMs(graceMs: number | undefined): number {
  if (graceMs === undefined) return DEFAULT_SCOPE_GRACE_MS
  if (!Number.isSafeInteger(graceMs) || graceMs < 0 || graceMs > MAX_TIMER_MS) {
    throw new TypeError(
      `scopeGraceMs must be a whole number of ms from 0 to ${MAX_TIMER_MS}; got ${describeOption(graceMs)}.`,
    )
  }
  return graceMs
}

/**
 * When a request's scope is disposed, the one rule of every adapter: once the response is over
 * (sent, or closed by a client that went away) and no work of the request that may use the scope
 * still runs (request-start and framework hooks, the handler, before-response hooks), or
 * `graceMs` after the response was over, whichever comes first; once. A client that goes away
 * closes the response under work still running: the scope it resolved from (a transaction, a
 * session) stays until that work is done with it, but work that never settles would keep it, and
 * what it holds (a pooled connection), for good.
 */
export class RequestEnd {
  readonly #app: AdapterApp
  readonly #context: RequestContext
  readonly #graceMs: number
  #running: number
  #responseOver = false
  #ended = false
  #grace: NodeJS.Timeout | undefined

  /** `running`: how much work of the request runs when this starts watching (see {@link hold}). */
  constructor(app: AdapterApp, context: RequestContext, graceMs: number, running: number) {
    this.#app = app
    this.#context = context
    this.#graceMs = graceMs
    this.#running = running
  }

  /** Work of the request that may use its scope starts; {@link release} it once settled. */
  hold(): void {
    this.#running += 1
  }

  /** Work that {@link hold} (or the constructor's `running`) counted has settled. */
  release(): void {
    if (this.#running === 0) return
    this.#running -= 1
    if (this.#running === 0 && this.#responseOver) this.#end()
  }

  /** The response is over: sent, or closed by the client. */
  responseClosed(): void {
    if (this.#responseOver) return
    this.#responseOver = true
    if (this.#running === 0) {
      this.#end()
      return
    }
    // Only a request whose work outlives its response pays for a timer.
    this.#grace = setTimeout(() => this.#expire(), this.#graceMs)
    this.#grace.unref()
  }

  #expire(): void {
    if (this.#ended) return
    if (this.#context.hasScope) {
      this.#app.logger.warn(
        { requestId: this.#context.requestId, scopeGraceMs: this.#graceMs },
        'Work of a request (a hook or its handler) had not settled scopeGraceMs after its response was over; its request scope is disposed',
      )
    }
    this.#end()
  }

  #end(): void {
    if (this.#ended) return
    this.#ended = true
    if (this.#grace !== undefined) clearTimeout(this.#grace)
    disposeRequestScope(this.#app, this.#context)
  }
}
