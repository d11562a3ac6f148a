import type { IncomingMessage, ServerResponse } from 'node:http'
import { processGlobal } from '../../global/index.js'
import type {
  Context,
  Env,
  ErrorHandler,
  Hono,
  MiddlewareHandler,
  NotFoundHandler,
  Schema,
} from 'hono'
import {
  currentRequestContext,
  hasBeforeResponseHooks,
  RequestContext,
  runBeforeResponseHooks,
  runInRequestContext,
  runRequestStartHooks,
} from '../../context/index.js'
import { NotFoundError, type RenderedProblem } from '../../errors/index.js'
import {
  type AdapterApp,
  answerClientErrorsOf,
  isBrokenConnection,
  contentCoding,
  decodeBody,
  forgetResponse,
  isHttpException,
  isEventStream,
  jsonTypeRefusal,
  malformedPathRefusal,
  PayloadTooLargeError,
  parseJsonBytes,
  REQUEST_ID_HEADER,
  RequestEnd,
  repeatedQueryKey,
  renderHttpError,
  resolveBodyLimit,
  resolveScopeGraceMs,
  sendableResponse,
  trackResponse,
  withBodyJson,
} from '../shared/index.js'
import { HonoHttpExchange } from './hono-http-exchange.js'

// Responses this adapter rendered, so the middleware does not render an error a second time.
const rendered = processGlobal('mortar.hono.rendered', () => new WeakSet<Response>())

/**
 * Options of {@link mortarHono} and {@link useMortar}.
 *
 * @example
 * ```ts
 * import { type MortarHonoOptions, useMortar } from '@mortar/core/hono'
 *
 * const options: MortarHonoOptions = { bodyLimit: 64 * 1024 }
 * useMortar(hono, app, options)
 * ```
 */
export interface MortarHonoOptions {
  /**
   * The largest request body accepted, in bytes (default 1 MiB): a request that declares more is
   * answered 413 before any handler runs, and one of no declared length fails the handler's read
   * (`c.req.json()`, a mounted handler's `request.text()`) once past the limit, answered 413 too.
   */
  readonly bodyLimit?: number
  /**
   * How long, in ms, work of a request that has not settled (its request-start hooks, the
   * middleware and handler after {@link mortarHono}, before-response hooks) keeps the request's
   * scope once the response is over (default 30,000): past it the scope is disposed, with a
   * warning naming the request, and a later `resolve` in that request fails with `E_RESOLUTION`.
   */
  readonly scopeGraceMs?: number
}

/**
 * Hono middleware that runs the rest of the request inside a Mortar request context (request id,
 * scope, slots), echoes `x-request-id`, disposes the scope once the response is over and the
 * rest of the chain has settled (or `scopeGraceMs` after the response was over), answers a
 * body over the limit (1 MiB unless set) with a 413 problem, answers a query key given more than
 * once and read through `c.req.query()` or `c.req.query(key)` with a 400 problem (rather than its
 * first value; `c.req.queries()` gives them all), and renders an error a handler threw as
 * problem+json. Register it before the routes; {@link useMortar} installs it with the error
 * and not-found handlers.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { createApp } from '@mortar/core'
 * import { mortarHono, mortarNotFound, mortarOnError } from '@mortar/core/hono'
 *
 * const app = createApp({ modules: [] })
 * const hono = new Hono()
 * hono.use(mortarHono(app))
 * hono.onError(mortarOnError(app))
 * hono.notFound(mortarNotFound())
 * ```
 */
export function mortarHono(app: AdapterApp, options: MortarHonoOptions = {}): MiddlewareHandler {
  const createScope = () => app.createScope()
  const bodyLimit = resolveBodyLimit(options.bodyLimit)
  const graceMs = resolveScopeGraceMs(options.scopeGraceMs)
  return async function mortar(c, next) {
    // Under @hono/node-server, the server answers its parser's errors from here on (see
    // answerClientErrors); other runtimes have no Node parser.
    const socket = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket
    answerClientErrorsOf(socket)
    const http = new HonoHttpExchange(c, bodyLimit)
    const limited = limitBody(c, bodyLimit)
    readBodyJsonAsClient(c, bodyLimit)
    readQueryOneValueEach(c)
    const signal = c.req.raw.signal
    const context = new RequestContext({
      requestId: c.req.header(REQUEST_ID_HEADER),
      ip: remoteAddress(c),
      userAgent: c.req.header('user-agent'),
      acceptLanguage: c.req.header('accept-language'),
      signal,
      http,
      createScope,
      // A client that leaves while the rest of the chain runs ends the response (the runtime
      // aborts the request's signal): the grace of work that never settles starts there.
      watchEnd: () => endOnAbort(signal, end),
    })
    // The rest of the chain (hooks, middleware, the handler) runs until this middleware returns.
    const end = new RequestEnd(app, context, graceMs, 1)
    try {
      await runInRequestContext(context, async () => {
        // Modules' request-start hooks (session, principal) finish before any handler runs.
        try {
          const badPath = malformedPathRefusal(http.url)
          if (badPath) throw badPath
          if (limited.tooLarge) throw new PayloadTooLargeError()
          await runRequestStartHooks(app, context)
        } catch (error) {
          setResponse(c, problemResponse(c, error, context.requestId, app))
          return
        }
        // The parser refused what followed the head (a malformed chunk) and answered it: the
        // request is broken, and no handler runs for it.
        if (isBrokenConnection(socket)) return
        await next()
        const sendable = sendableResponse(c.res)
        if (sendable !== c.res) {
          // Cleared first, so Hono does not merge the replaced response's headers back in.
          c.res = undefined
          c.res = sendable
        }
        // Past the limit while the handler read the body: a 413, whatever the handler made of
        // the error its read threw.
        if (limited.exceeded && !(c.res.status === 413 && rendered.has(c.res))) {
          setResponse(c, problemResponse(c, new PayloadTooLargeError(), context.requestId, app))
          return
        }
        // A rendered error or 404 is not a result: it gets neither the held headers nor the
        // before-response hooks, which see a successful result before it is sent (one that
        // throws replaces it with a problem).
        if (c.error || rendered.has(c.res)) return
        http.flush()
        if (!hasBeforeResponseHooks(app)) return
        try {
          const checked = runBeforeResponseHooks(app, context)
          if (checked) await checked
        } catch (error) {
          setResponse(c, problemResponse(c, error, context.requestId, app))
        }
      })
      if (c.error && !rendered.has(c.res)) {
        setResponse(c, problemResponse(c, c.error, context.requestId, app))
      }
    } catch (error) {
      // Hono hands only Error instances to onError; anything else thrown lands here.
      setResponse(c, problemResponse(c, error, context.requestId, app))
    } finally {
      setRequestId(c, context.requestId)
      endWithServer(c, context)
      end.release()
      afterResponse(
        c,
        () => end.responseClosed(),
        () => limited.release(),
      )
    }
  }
}

/**
 * A Hono error handler that renders any error as problem+json: a Mortar error with its status,
 * code and detail, an `HTTPException` with its status (and the headers of its prepared response),
 * a malformed JSON body as a 400, anything else as a 500 that shows nothing and is logged.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { createApp } from '@mortar/core'
 * import { mortarOnError } from '@mortar/core/hono'
 *
 * const app = createApp({ modules: [] })
 * new Hono().onError(mortarOnError(app))
 * ```
 */
export function mortarOnError(app: Pick<AdapterApp, 'logger'>): ErrorHandler {
  return (error, c) => {
    const requestId = currentRequestContext()?.requestId ?? contextlessId(c)
    const response = problemResponse(c, error, requestId, app)
    rendered.add(response)
    return response
  }
}

/**
 * A Hono not-found handler that answers an unknown route with a 404 problem (`E_NOT_FOUND`).
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { mortarNotFound } from '@mortar/core/hono'
 *
 * new Hono().notFound(mortarNotFound())
 * ```
 */
export function mortarNotFound(): NotFoundHandler {
  return (c) => {
    const requestId = currentRequestContext()?.requestId ?? contextlessId(c)
    const error = new NotFoundError('No route matches this method and path.')
    const response = problemResponse(c, error, requestId, undefined)
    rendered.add(response)
    return response
  }
}

/**
 * Installs {@link mortarHono}, {@link mortarOnError} and {@link mortarNotFound} on a Hono app.
 * Call it before defining routes: Hono runs middleware in the order it was added.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { createApp, requestContext } from '@mortar/core'
 * import { useMortar } from '@mortar/core/hono'
 *
 * const app = createApp({ modules: [] })
 * const hono = new Hono()
 * useMortar(hono, app)
 * hono.get('/me', (c) => c.json({ requestId: requestContext().requestId }))
 * ```
 */
export function useMortar<E extends Env, S extends Schema, B extends string>(
  hono: Hono<E, S, B>,
  app: AdapterApp,
  options: MortarHonoOptions = {},
): void {
  hono.use(mortarHono(app, options))
  hono.onError(mortarOnError(app))
  hono.notFound(mortarNotFound())
}

interface LimitedBody {
  /** The request declared a body over the limit. */
  readonly tooLarge: boolean
  /** A body of no declared length passed the limit while it was read. */
  readonly exceeded: boolean
  /** The response is over: lets go of what is left of a counted body. */
  release(): void
}

const WITHIN: LimitedBody = { tooLarge: false, exceeded: false, release: () => {} }

// A declared length is checked at once. Any other body is counted as the handler reads it: the
// stream fails with a 413 error once past the limit, so nothing past it is read. That is not
// only a chunked one: over HTTP/2, and on fetch runtimes, a body carries no transfer-encoding.
// GET and HEAD have none, so most requests never touch the body stream.
function limitBody(c: Context, limit: number): LimitedBody {
  // A length that is no number (a runtime that passes it on unchecked) is not trusted: counted.
  const declared = c.req.header('content-length')
  if (declared !== undefined && /^\s*\d+\s*$/.test(declared))
    return Number(declared) > limit ? { ...WITHIN, tooLarge: true } : WITHIN
  const method = c.req.method
  if (method === 'GET' || method === 'HEAD') return WITHIN
  const raw = c.req.raw
  if (raw.body === null) return WITHIN
  const reader = raw.body.getReader()
  let size = 0
  let ended = false
  const state = {
    tooLarge: false,
    exceeded: false,
    // Counting holds the body's reader, so the runtime can neither drain nor cancel a body the
    // handler left unread or half read: an endless upload would keep its connection for good.
    // Once the response is over, what is left is cancelled (see afterResponse).
    release(): void {
      if (ended) return
      ended = true
      reader.cancel().catch(() => undefined)
    },
  }
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read()
      if (done) {
        ended = true
        return controller.close()
      }
      size += value.byteLength
      if (size > limit) {
        state.exceeded = true
        ended = true
        controller.error(new PayloadTooLargeError())
        await reader.cancel()
        return
      }
      controller.enqueue(value)
    },
    cancel: (reason) => {
      ended = true
      return reader.cancel(reason)
    },
  })
  c.req.raw = new Request(raw, { body, duplex: 'half' } as RequestInit)
  return state
}

// c.req.json() (and a handler's c.req.raw.json()) decode the body leniently, as text, whatever
// its content-type and content-encoding, and throw a bare SyntaxError on a malformed one. Both
// read its bytes instead, decoded from the content-encoding (decodeBody: 415 for a coding no
// adapter decodes), once the content-type says UTF-8 JSON (jsonTypeRefusal, a 415): not UTF-8,
// malformed or holding a __proto__ key is the client's 400, and no other SyntaxError is. c.req.text() reads through
// the bytes too, so Hono's body cache keeps them whichever is read first (a middleware that
// checks a signature over c.req.text(), then the handler's c.req.json()).
function readBodyJsonAsClient(c: Context, limit: number): void {
  const req = c.req
  const lenient = new TextDecoder()
  // The body as the client meant it: decoded from its content-encoding, within the limit.
  const decoded = async () => {
    const coding = req.header('content-encoding')
    contentCoding(coding)
    return decodeBody(new Uint8Array(await req.arrayBuffer()), coding, limit)
  }
  Object.defineProperties(req, {
    json: {
      value: async () => {
        const refused = jsonTypeRefusal(req.header('content-type'))
        if (refused) throw refused
        return parseJsonBytes(await decoded())
      },
      configurable: true,
    },
    text: { value: async () => lenient.decode(await decoded()), configurable: true },
  })
  c.req.raw = withBodyJson(c.req.raw)
}

// c.req.query() and c.req.query(key), typed one string per key, give the first of a repeated
// key's values, where Fastify's request.query and Express's req.query give all of them: a
// repeated key read through them is a 400 instead (repeatedQueryKey), so no adapter silently
// answers with one of several values. c.req.queries() gives them all, as Hono has it.
function readQueryOneValueEach(c: Context): void {
  const req = c.req
  const queries = req.queries.bind(req) as () => Record<string, string[]>
  let single: Record<string, string> | undefined
  const all = (): Record<string, string> => {
    if (single !== undefined) return single
    const values: Record<string, string> = {}
    for (const [key, given] of Object.entries(queries())) {
      if (given.length > 1) throw repeatedQueryKey(key, given.length)
      values[key] = given[0] as string
    }
    single = values
    return values
  }
  Object.defineProperty(req, 'query', {
    value: (key?: string) => {
      if (key === undefined) return { ...all() }
      const given = req.queries(key)
      if (given !== undefined && given.length > 1) throw repeatedQueryKey(key, given.length)
      return given?.[0]
    },
    configurable: true,
  })
}

// Hono's HTTPException, known by shape so that hono is never loaded at run time.
function problemResponse(
  c: Context,
  error: unknown,
  requestId: string,
  app: Pick<AdapterApp, 'logger'> | undefined,
): Response {
  let headers: Headers | undefined
  if (isHttpException(error)) {
    // Keep the prepared response's headers, such as bearerAuth's WWW-Authenticate.
    headers = new Headers(error.getResponse().headers)
    headers.delete('content-type')
    headers.delete('content-length')
  }
  const problem: RenderedProblem = renderHttpError(error, {
    logger: app?.logger,
    requestId,
    method: c.req.method,
    url: c.req.path,
  })
  headers ??= new Headers()
  for (const [name, value] of Object.entries(problem.headers)) headers.set(name, value)
  headers.set(REQUEST_ID_HEADER, requestId)
  return new Response(JSON.stringify(problem.body), { status: problem.status, headers })
}

function setResponse(c: Context, response: Response): void {
  // Clearing first stops Hono merging the replaced response's headers into the problem.
  c.res = undefined
  c.res = response
  rendered.add(response)
}

function setRequestId(c: Context, requestId: string): void {
  try {
    c.res.headers.set(REQUEST_ID_HEADER, requestId)
  } catch {
    // A response passed through from fetch() has immutable headers: copy it.
    c.res = new Response(c.res.body, c.res)
    c.res.headers.set(REQUEST_ID_HEADER, requestId)
  }
}

function endOnAbort(signal: AbortSignal, end: RequestEnd): void {
  if (signal.aborted) end.responseClosed()
  else signal.addEventListener('abort', () => end.responseClosed(), { once: true })
}

// @hono/node-server exposes the Node request as env.incoming; other runtimes have no socket here.
function remoteAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined
  return env?.incoming?.socket?.remoteAddress
}

// An event stream served through @hono/node-server (env.incoming, env.outgoing) is ended when
// its server closes, which would otherwise wait on it for good; see trackResponse.
function endWithServer(c: Context, context: RequestContext): void {
  if (!isEventStream(c.res.headers.get('content-type'))) return
  const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined
  const incoming = env?.incoming
  const outgoing = env?.outgoing
  if (incoming === undefined || outgoing === undefined) return
  trackResponse(incoming, outgoing, context, true)
  outgoing.once('close', () => forgetResponse(incoming, outgoing))
}

// The handler returning is not the end of the request: a streamed body is sent after it and may
// still resolve from the scope (or read the request's body), so the response is over, as under
// the node:http adapters, when @hono/node-server's response closes, elsewhere once the body is
// read to its end, fails or is cancelled. Then, off Node, what is left of a counted request body
// is let go; under @hono/node-server, Node reads the rest itself and keeps the connection.
function afterResponse(c: Context, responseOver: () => void, release: () => void): void {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing
  if (outgoing !== undefined) {
    if (outgoing.closed) responseOver()
    else outgoing.once('close', responseOver)
    return
  }
  const over = () => {
    responseOver()
    release()
  }
  const response = c.res
  if (response.body === null) {
    over()
    return
  }
  // Cleared first, so Hono does not merge the replaced response's headers back in.
  c.res = undefined
  c.res = new Response(overAfter(response.body, over), response)
}

function overAfter(body: ReadableStream<Uint8Array>, over: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  let ended = false
  const end = () => {
    if (ended) return
    ended = true
    over()
  }
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read()
        if (chunk.done) {
          controller.close()
          end()
        } else controller.enqueue(chunk.value)
      } catch (error) {
        end()
        throw error
      }
    },
    cancel(reason) {
      end()
      return reader.cancel(reason)
    },
  })
}

function contextlessId(c: Context): string {
  return new RequestContext({ requestId: c.req.header(REQUEST_ID_HEADER), createScope: noScope })
    .requestId
}

function noScope(): never {
  throw new Error('This request has no Mortar context: add mortarHono(app) before the routes.')
}
