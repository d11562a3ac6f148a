import { AsyncLocalStorage } from 'node:async_hooks'
import { randomUUID } from 'node:crypto'
import type { Key } from '../di/token.js'

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
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The state of one request, reachable from anywhere below the adapter through {@link requestContext}. */
export class RequestContext {
  readonly requestId: string
  readonly ip: string | undefined
  readonly userAgent: string | undefined
  /** The HTTP exchange, when this context serves an HTTP request. */
  readonly http: HttpExchange | undefined
  // Everything below is made on first use: most requests never read the signal, the locale or
  // a slot, and the adapters' overhead per request is measured against bare frameworks.
  #acceptLanguage: string | undefined
  #slots: Map<keyof ContextSlots, unknown> | undefined
  #signal: AbortSignal | undefined
  #controller: AbortController | undefined
  #aborted = false
  #createScope: () => RequestScope
  #scope: RequestScope | undefined

  constructor(init: RequestContextInit) {
    // An echoed id goes into logs and headers: accept only a plain token.
    this.requestId =
      init.requestId && REQUEST_ID.test(init.requestId) ? init.requestId : randomUUID()
    this.ip = init.ip
    this.userAgent = init.userAgent
    this.#acceptLanguage = init.acceptLanguage
    this.#signal = init.signal
    this.http = init.http
    this.#createScope = init.createScope
  }

  /** The first language tag of `accept-language` (`'fr-CH'`), or `undefined`. */
  get locale(): string | undefined {
    return this.#acceptLanguage?.split(',')[0]?.split(';')[0]?.trim() || undefined
  }

  /** Aborted when the client goes away before the response is complete. */
  get signal(): AbortSignal {
    if (this.#signal === undefined) {
      this.#controller = new AbortController()
      if (this.#aborted) this.#controller.abort()
      this.#signal = this.#controller.signal
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

  /** Reads a slot; `undefined` when nothing was set. */
  get<K extends keyof ContextSlots>(key: K): ContextSlots[K] | undefined {
    return this.#slots?.get(key) as ContextSlots[K] | undefined
  }

  /** Sets a slot for the rest of this request. */
  set<K extends keyof ContextSlots>(key: K, value: ContextSlots[K]): void {
    this.#slots ??= new Map()
    this.#slots.set(key, value)
  }

  /** Resolves a provider in this request's scope (created on first use, so unused it costs nothing). */
  resolve<T>(key: Key<T>): T {
    this.#scope ??= this.#createScope()
    return this.#scope.resolve(key)
  }

  /** Whether the request's scope was created (so {@link RequestContext.dispose} has work to do). */
  get hasScope(): boolean {
    return this.#scope !== undefined
  }

  /** Disposes the request's scope, if one was created. Adapters call it when the response ends. */
  async dispose(): Promise<void> {
    const scope = this.#scope
    this.#scope = undefined
    if (scope) await scope.dispose()
  }
}

// One store per process even when both the ESM and the CJS build of core are loaded.
const STORAGE_KEY = Symbol.for('mortar.requestContext')
const globalStore = globalThis as unknown as Record<
  symbol,
  AsyncLocalStorage<RequestContext> | undefined
>
globalStore[STORAGE_KEY] ??= new AsyncLocalStorage()
const storage: AsyncLocalStorage<RequestContext> = globalStore[STORAGE_KEY]

/** Runs `fn` with `context` as the current request context. */
export function runInRequestContext<R>(context: RequestContext, fn: () => R): R {
  return storage.run(context, fn)
}

/** The current request context, or `undefined` outside a request. */
export function currentRequestContext(): RequestContext | undefined {
  return storage.getStore()
}

/** The current request context; throws when called outside a request. */
export function requestContext(): RequestContext {
  const context = storage.getStore()
  if (!context) {
    throw new Error(
      'No request context: this code ran outside a request. Use currentRequestContext() where that can happen.',
    )
  }
  return context
}
