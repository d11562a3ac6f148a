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
  // Route handlers running now; handed to #end once something listens for the response's end.
  #running = 0
  #end: RequestEnd | undefined

  constructor(request: FastifyRequest, reply: FastifyReply, app: AdapterApp) {
    this.#request = request
    this.#reply = reply
    this.#app = app
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

  /** The route's handler starts: the scope outlives a client that goes away until it settles. */
  handlerStarted(): void {
    if (this.#end === undefined) this.#running += 1
    else this.#end.handlerStarted()
  }

  /** The route's handler settled. */
  handlerSettled(): void {
    if (this.#end !== undefined) this.#end.handlerSettled()
    else if (this.#running > 0) this.#running -= 1
  }

  // Listening for the end of the response costs a listener per request, so it starts only when
  // the request reads its abort signal or creates its scope.
  watchEnd(context: RequestContext): void {
    const response = this.#reply.raw
    const end = new RequestEnd(this.#app, context, this.#running)
    this.#end = end
    // Already over (work the handler left running): abort if the client went away, and end the
    // context once no handler runs, since no response end is left to dispose a scope made now.
    if (response.closed) {
      if (!response.writableFinished) context.abort()
      end.responseClosed()
      return
    }
    response.once('close', () => {
      if (!response.writableFinished) context.abort()
      end.responseClosed()
    })
  }
}
