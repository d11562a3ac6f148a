import type { FastifyReply, FastifyRequest } from 'fastify'
import type {
  HttpExchange,
  RequestContext,
  RequestContextInit,
  RequestScope,
} from '../../context/index.js'
import type { AdapterApp } from '../shared/index.js'
import { AppendedHeaders, headerValues } from '../shared/appended-headers.js'
import { firstHeader, REQUEST_ID_HEADER, RequestEnd } from '../shared/index.js'

/**
 * The {@link HttpExchange} of a Fastify request, which is also what its request context is built
 * from: one object per request, whose facts are read only when someone asks for them.
 */
export class FastifyHttpExchange implements HttpExchange, RequestContextInit {
  readonly #request: FastifyRequest
  readonly #reply: FastifyReply
  readonly #app: AdapterApp
  readonly #appended = new AppendedHeaders()
  readonly #graceMs: number
  // The request's own work, counted while nothing listens for the response's end and handed to
  // #end once something does: Fastify's lifecycle (hooks, then the route's handler) from
  // onRequest, and before-response checks while they run.
  #running = 1
  #lifecycle: Lifecycle = HOOKS
  // The route's handler result while it runs, for an #end made after the handler started.
  #handling: PromiseLike<unknown> | undefined
  #end: RequestEnd | undefined

  constructor(request: FastifyRequest, reply: FastifyReply, app: AdapterApp, graceMs: number) {
    this.#request = request
    this.#reply = reply
    this.#app = app
    this.#graceMs = graceMs
  }

  get method(): string {
    return this.#request.method
  }

  get url(): string {
    return this.#request.url
  }

  header(name: string): string | undefined {
    const value = this.#request.headers[name.toLowerCase()]
    return Array.isArray(value) ? value.join(', ') : value
  }

  appendResponseHeader(name: string, value: string): void {
    // reply.header() already appends set-cookie; any other header would be replaced. Repeated
    // values are kept as a list (one header line each), so withdrawAppended can find each one.
    const existing = this.#reply.getHeader(name)
    const append = existing !== undefined && name.toLowerCase() !== 'set-cookie'
    this.#reply.header(name, append ? [...headerValues(existing), value] : value)
    this.#appended.record(name, value)
  }

  /** Takes back what {@link appendResponseHeader} added, before a problem is sent. */
  withdrawAppended(): void {
    const reply = this.#reply
    this.#appended.withdraw(reply, (name, value) => reply.header(name, value))
  }

  /** The limit Fastify applies to this route's body. */
  get bodyLimit(): number {
    return this.#request.routeOptions.bodyLimit
  }

  get requestId(): string | undefined {
    return firstHeader(this.#request.headers[REQUEST_ID_HEADER])
  }

  get ip(): string | undefined {
    return this.#request.ip
  }

  get userAgent(): string | undefined {
    return this.#request.headers['user-agent']
  }

  get acceptLanguage(): string | undefined {
    return this.#request.headers['accept-language']
  }

  get http(): HttpExchange {
    return this
  }

  createScope(): RequestScope {
    return this.#app.createScope()
  }

  /** Work that may use the scope starts (a before-response check); {@link release} it after. */
  hold(): void {
    if (this.#end === undefined) this.#running += 1
    else this.#end.hold()
  }

  /** Work that {@link hold} counted has settled. */
  release(): void {
    const end = this.#end
    if (end === undefined) {
      if (this.#running > 0) this.#running -= 1
      return
    }
    // Fastify starts what comes next (the next hook, or the reply's hooks after the handler) in
    // a reaction to the settle that released this: let go a microtask later, the count does not
    // fall to nothing between the two, which would dispose the scope under the next one.
    queueMicrotask(() => end.release())
  }

  /**
   * The route's handler returned `result`: the lifecycle runs on until it settles. Called after
   * the handler's synchronous part, which runs inside the lifecycle all the same.
   */
  handled(result: unknown): void {
    if (this.#lifecycle === OVER) return
    if (!isThenable(result)) {
      this.#lifecycleOver()
      return
    }
    this.#lifecycle = HANDLER
    this.#handling = result
    if (this.#end !== undefined) this.#follow(result)
  }

  /**
   * Fastify answers without the route's handler (an error, the not-found handler, a hook that
   * replied): the hooks are over.
   */
  repliedWithoutHandler(): void {
    if (this.#lifecycle === HOOKS) this.#lifecycleOver()
  }

  #lifecycleOver(): void {
    this.#lifecycle = OVER
    this.#handling = undefined
    this.release()
  }

  #follow(handling: PromiseLike<unknown>): void {
    const settled = () => {
      if (this.#lifecycle === HANDLER) this.#lifecycleOver()
    }
    handling.then(settled, settled)
  }

  // Listening for the end of the response costs a listener per request, so it starts only when
  // the request reads its abort signal or creates its scope.
  watchEnd(context: RequestContext): void {
    const response = this.#reply.raw
    const end = new RequestEnd(this.#app, context, this.#graceMs, this.#running)
    this.#end = end
    if (this.#handling !== undefined) this.#follow(this.#handling)
    const closed = () => {
      if (!response.writableFinished) {
        context.abort()
        this.#awaitAbortHooks()
      }
      if (this.#lifecycle === HOOKS) {
        // Sent, by a hook or a route registered before the plugin: the hooks are done. Else
        // Fastify runs on through the hooks for a client that has gone: watch for their end.
        if (response.headersSent || response.writableEnded) this.#lifecycleOver()
        else this.#watchReply()
      }
      end.responseClosed()
    }
    // Already over (work left running makes its scope now): what is left of the lifecycle, if
    // anything, still holds it.
    if (response.closed) closed()
    else response.once('close', closed)
  }

  // Fastify starts the onRequestAbort hooks on the request's close, which Node emits after the
  // response's: until then they count as running, so the scope is not disposed just before they
  // start (they hold it themselves from their call, see holdScopeThroughHooks).
  #awaitAbortHooks(): void {
    const request = this.#request.raw
    if (request.closed) return
    this.hold()
    request.once('close', () => this.release())
  }

  // A hook that replies itself ends the lifecycle with reply.send(): watched only for a request
  // whose client went away during its hooks, so no other request pays for it.
  #watchReply(): void {
    const reply = this.#reply
    const send = reply.send
    const exchange = this
    reply.send = function sendAfterHooks(this: FastifyReply, payload?: unknown) {
      Reflect.deleteProperty(reply, 'send')
      exchange.repliedWithoutHandler()
      return send.call(this, payload)
    }
  }
}

const HOOKS = 0
const HANDLER = 1
const OVER = 2
/** Where Fastify's lifecycle of a request is: in its hooks, in the route's handler, or over. */
type Lifecycle = typeof HOOKS | typeof HANDLER | typeof OVER

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function'
}
