import { processGlobal } from '../global/index.js'
import { AsyncLocalStorage } from 'node:async_hooks'
import { ResolutionError } from '../di/resolution-error.js'
import { type Key, keyName } from '../di/token.js'
import { holdNextTickShape } from './next-tick-shape.js'
import { NoRequestContextError } from './no-request-context-error.js'
import { newRequestId } from './request-id.js'

/**
 * Who is making the request. Empty here: an app or an auth package declares its fields by
 * declaration merging.
 *
 * @example
 * ```ts
 * declare module '@mortar/core' {
 *   interface Principal { id: string; roles: readonly string[] }
 * }
 * ```
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled by declaration merging
export interface Principal {}

/**
 * Typed slots of the request context. Packages add their own by declaration merging, so
 * `context.get('session')` is typed wherever it is read.
 *
 * @example
 * ```ts
 * declare module '@mortar/core' {
 *   interface ContextSlots { tenantId: string }
 * }
 * requestContext().set('tenantId', 'acme')
 * ```
 */
export interface ContextSlots {
  principal: Principal
}

/** A per-request child of the app's container; resolves scoped providers once per request. */
export interface RequestScope {
  resolve<T>(key: Key<T>): T
  dispose(): Promise<void>
}

/**
 * The framework-neutral view of the HTTP exchange that an adapter gives the context, so that
 * packages such as sessions read request headers and set response headers the same way under
 * Fastify, Hono, Express and node:http.
 */
export interface HttpExchange {
  /** The request method, upper case. */
  readonly method: string
  /** The request path and query, as received. */
  readonly url: string
  /** A request header by lower-case name; repeated headers are joined with `, `. */
  header(name: string): string | undefined
  /** Adds a response header (`set-cookie` may be appended many times). Call before the response is sent. */
  appendResponseHeader(name: string, value: string): void
  /**
   * The largest request body the adapter accepts, in bytes; readers such as `readJson` and
   * mounted fetch handlers use it. Absent: 1 MiB.
   */
  readonly bodyLimit?: number
}

/** What an HTTP adapter knows when a request arrives. */
export interface RequestContextInit {
  /** The incoming `x-request-id`; used only if it is a sane token, otherwise a new one is made. */
  readonly requestId?: string | undefined
  readonly ip?: string | undefined
  readonly userAgent?: string | undefined
  /** The raw `accept-language` header; the first tag becomes `locale`. */
  readonly acceptLanguage?: string | undefined
  /** The framework's own abort signal, if it has one; otherwise the context makes one on demand. */
  readonly signal?: AbortSignal
  /** The HTTP exchange; absent for work that is not an HTTP request (a job, a script). */
  readonly http?: HttpExchange
  /** Creates the request's scope; called at most once, on first use. */
  readonly createScope: () => RequestScope
  /**
   * Called once, when the context first needs to hear how the request ends: on the first read of
   * `signal` or the first use of the scope. An adapter starts listening for the end of the
   * response here (then calls `abort()` if the client went away, and `dispose()`), so a request
   * that uses neither pays for no listener.
   */
  readonly watchEnd?: (context: RequestContext) => void
}

// What dispose() gives when there is nothing (left) to dispose: no promise made per request.
const DISPOSED = Promise.resolve()

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The state of one request, reachable from anywhere below the adapter through {@link requestContext}. */
export class RequestContext {
  readonly requestId: string
  // Everything else is read from the init or made on first use: most requests never read the
  // signal, the locale or a slot, and the adapters' overhead per request is measured against
  // bare frameworks.
  readonly #init: RequestContextInit
  #slots: Map<keyof ContextSlots, unknown> | undefined
  #withheld: Map<keyof ContextSlots, Error[]> | undefined
  #signal: AbortSignal | undefined
  #controller: AbortController | undefined
  #aborted = false
  #scope: RequestScope | undefined
  /** Disposed: the scope is kept (its resolve refuses) and no new one is made. */
  #ended = false
  #watchingEnd = false

  constructor(init: RequestContextInit) {
    this.#init = init
    // An echoed id goes into logs and headers: accept only a plain token.
    const requestId = init.requestId
    this.requestId =
      requestId !== undefined && REQUEST_ID.test(requestId) ? requestId : newRequestId()
  }

  /** The client's address, as the adapter's framework reports it. */
  get ip(): string | undefined {
    return this.#init.ip
  }

  /** The `user-agent` request header. */
  get userAgent(): string | undefined {
    return this.#init.userAgent
  }

  /** The HTTP exchange, when this context serves an HTTP request. */
  get http(): HttpExchange | undefined {
    return this.#init.http
  }

  /** The first language tag of `accept-language` (`'fr-CH'`), or `undefined`. */
  get locale(): string | undefined {
    return this.#init.acceptLanguage?.split(',')[0]?.split(';')[0]?.trim() || undefined
  }

  /** Aborted when the client goes away before the response is complete. */
  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      const given = this.#init.signal
      if (given !== undefined) {
        this.#signal = given
      } else {
        this.#controller = new AbortController()
        this.#signal = this.#controller.signal
        this.#watchEnd()
        if (this.#aborted) this.#controller.abort()
      }
    }
    return this.#signal
  }

  /**
   * For adapters: the client went away. Aborts {@link RequestContext.signal}, now or when it is
   * first read. Has no effect on a signal given in {@link RequestContextInit}.
   */
  abort(): void {
    this.#aborted = true
    this.#controller?.abort()
  }

  /** Reads a slot; `undefined` when nothing was set. Throws while the slot is withheld. */
  get<K extends keyof ContextSlots>(key: K): ContextSlots[K] | undefined {
    const withheld = this.#withheld?.get(key)
    if (withheld !== undefined) throw withheld[withheld.length - 1]
    return this.#slots?.get(key) as ContextSlots[K] | undefined
  }

  /**
   * Withholds a slot: until the returned function is called, every read of it throws `error`,
   * whether or not a value was set. For a module that learns only later in the request whether
   * the request may act as someone: `@mortar/session` withholds the `principal` of a form post
   * until its CSRF token is checked, so that no code can read it as anonymous meanwhile.
   *
   * @example
   * ```ts
   * import { ForbiddenError, requestContext } from '@mortar/core'
   *
   * const context = requestContext()
   * const release = context.withhold('principal', new ForbiddenError('Confirm the code first.'))
   * // … context.get('principal') throws until the code is confirmed:
   * release()
   * ```
   */
  withhold<K extends keyof ContextSlots>(key: K, error: Error): () => void {
    this.#withheld ??= new Map()
    // Every hold stands until its own release: two modules may withhold one slot, and either
    // may be released first.
    const holds = this.#withheld.get(key)
    if (holds === undefined) this.#withheld.set(key, [error])
    else holds.push(error)
    let released = false
    return () => {
      if (released) return
      released = true
      const current = this.#withheld?.get(key)
      if (current === undefined) return
      const index = current.lastIndexOf(error)
      if (index !== -1) current.splice(index, 1)
      if (current.length === 0) this.#withheld?.delete(key)
    }
  }

  /** Sets a slot for the rest of this request. */
  set<K extends keyof ContextSlots>(key: K, value: ContextSlots[K]): void {
    this.#slots ??= new Map()
    this.#slots.set(key, value)
  }

  /** Resolves a provider in this request's scope (created on first use, so unused it costs nothing). */
  resolve<T>(key: Key<T>): T {
    if (this.#scope === undefined) {
      // A scope made after the end would be disposed by nobody: work left running refuses.
      if (this.#ended) {
        throw new ResolutionError(
          `Resolved ${keyName(key)} after request ${this.requestId} ended (its response closed, or its job's handler settled); resolve it while the request runs.`,
        )
      }
      this.#scope = this.#init.createScope()
      this.#watchEnd()
    }
    return this.#scope.resolve(key)
  }

  /** Whether the request's scope was created and not yet disposed (so {@link RequestContext.dispose} has work to do). */
  get hasScope(): boolean {
    return this.#scope !== undefined && !this.#ended
  }

  #watchEnd(): void {
    if (this.#watchingEnd) return
    this.#watchingEnd = true
    this.#init.watchEnd?.(this)
  }

  /**
   * Disposes the request's scope, if one was created, and ends the request: a later
   * {@link RequestContext.resolve} throws {@link ResolutionError} instead of making a scope
   * nobody would dispose. Adapters call it when the response ends.
   */
  dispose(): Promise<void> {
    if (this.#ended) return DISPOSED
    this.#ended = true
    // Kept, not cleared: resolving from it now throws, where a new scope would leak.
    return this.#scope === undefined ? DISPOSED : this.#scope.dispose()
  }
}

// One store per process even when both the ESM and the CJS build of core are loaded.
const storage = processGlobal(
  'mortar.requestContext',
  () => new AsyncLocalStorage<RequestContext>(),
)

holdNextTickShape()

/** Runs `fn` with `context` as the current request context. */
export function runInRequestContext<R>(context: RequestContext, fn: () => R): R {
  return storage.run(context, fn)
}

/**
 * Makes `context` the current request context for the rest of the current callback and all the
 * work it schedules. For adapters whose framework calls them inside a callback scope of their
 * own (Node restores the previous context when it returns): half the cost of
 * {@link runInRequestContext}, which builds a second frame to restore the previous one.
 */
export function enterRequestContext(context: RequestContext): void {
  storage.enterWith(context)
}

/** The current request context, or `undefined` outside a request. */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore()
}

/** The current request context; throws {@link NoRequestContextError} outside a request. */
export function requestContext(): RequestContext {
  const context = storage.getStore()
  if (!context) throw new NoRequestContextError()
  return context
}
