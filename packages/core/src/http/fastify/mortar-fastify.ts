import { type Readable, Transform } from 'node:stream'
import { processGlobal } from '../../global/index.js'
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
  HookHandlerDoneFunction,
  RouteHandlerMethod,
} from 'fastify'
import {
  claimBeforeResponseHooks,
  currentRequestContext,
  enterRequestContext,
  hasBeforeResponseHooks,
  RequestContext,
  runBeforeResponseHooks,
  runInRequestContext,
  runRequestStartHooks,
} from '../../context/index.js'
import { StartupError } from '../../app/startup-error.js'
import { NotFoundError } from '../../errors/index.js'
import type { Logger } from '../../logger/logger.js'
import {
  type AdapterApp,
  answerClientErrors,
  type ContentCoding,
  contentCoding,
  decodingStream,
  endEventStreamsOnClose,
  hasBody,
  firstHeader,
  charsetRefusal,
  isBrokenConnection,
  isJsonType,
  malformedPathRefusal,
  REFUSED_RESULT_HEADERS,
  REQUEST_ID_HEADER,
  renderHttpError,
  repeatedKeyReadAsOne,
  resolveBodyLimit,
  resolveScopeGraceMs,
  utf8Check,
} from '../shared/index.js'
import { FastifyHttpExchange } from './fastify-http-exchange.js'
import { holdScopeThroughHooks, REQUEST_HOOKS } from './scope-holding-hooks.js'

/**
 * Options of {@link mortarFastify}.
 *
 * @example
 * ```ts
 * import type { MortarFastifyOptions } from '@mortar/core/fastify'
 *
 * const options: MortarFastifyOptions = { app }
 * await fastify.register(mortarFastify, options)
 * ```
 */
export interface MortarFastifyOptions {
  /** The app whose scope and logger each request uses. */
  readonly app: AdapterApp
  /**
   * The largest request body accepted, in bytes, for the routes registered after the plugin
   * that set none of their own; past it, a 413 problem. Default: the server's own `bodyLimit`
   * (Fastify's default is 1 MiB).
   */
  readonly bodyLimit?: number
  /**
   * How long, in ms, work of a request that has not settled (its hooks, the route's handler,
   * before-response hooks) keeps the request's scope once the response is over (default
   * 30,000): past it the scope is disposed, with a warning naming the request, and a later
   * `resolve` in that request fails with `E_RESOLUTION`.
   */
  readonly scopeGraceMs?: number
}

const kContext = Symbol.for('mortar.fastify.context')

// Replies that carry a problem this adapter rendered: before-response hooks are for successful
// results only. Added to only on the error path, so the happy path pays nothing for it.
const problems = processGlobal('mortar.fastify.problems', () => new WeakSet<FastifyReply>())

interface MortarRequest extends FastifyRequest {
  [kContext]: RequestContext | null
}

/**
 * A Fastify plugin that gives every request a Mortar request context (request id, scope, slots),
 * echoes `x-request-id`, renders every error and unknown route as problem+json, and answers a
 * body over the limit (1 MiB unless set) with a 413 problem. It is not encapsulated, so it
 * covers the routes of the instance it is registered on and its children. Start the app before
 * registering it: modules add their before-response hooks in `onStart`, and the plugin adds its
 * own response check only for an app that has some.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { createApp, requestContext } from '@mortar/core'
 * import { mortarFastify } from '@mortar/core/fastify'
 *
 * const app = createApp({ modules: [] })
 * await app.start()
 * const fastify = Fastify()
 * await fastify.register(mortarFastify, { app })
 * fastify.get('/me', async () => ({ requestId: requestContext().requestId }))
 * await fastify.listen({ port: 3000 })
 * ```
 */
export function mortarFastify(
  fastify: FastifyInstance,
  options: MortarFastifyOptions,
  done: (error?: Error) => void,
): void {
  const { app } = options
  if (typeof app?.createScope !== 'function') {
    done(
      new TypeError(
        'mortarFastify needs { app }: register it with fastify.register(mortarFastify, { app }).',
      ),
    )
    return
  }
  const early = registeredBefore(fastify)
  if (early.length > 0) {
    done(new StartupError(early))
    return
  }
  const logger = app.logger
  const bodyLimit =
    options.bodyLimit === undefined ? undefined : resolveBodyLimit(options.bodyLimit)
  const graceMs = resolveScopeGraceMs(options.scopeGraceMs)
  fastify.addHook('onRoute', (route) => {
    // Fastify reads and limits bodies itself: give each later route the limit, unless it has one.
    if (bodyLimit !== undefined) route.bodyLimit ??= bodyLimit
    route.handler = holdingScope(route.handler)
  })

  fastify.decorateRequest(kContext, null)

  // The context is entered, not run around the rest of the hook chain: Fastify calls onRequest
  // inside Node's callback for the request, which restores the previous context when it returns,
  // and entering builds one frame where run() builds two. The modules' request-start hooks
  // (session, principal) run here, in the context, before the body is read.
  fastify.addHook(
    'onRequest',
    (request: FastifyRequest, reply: FastifyReply, next: HookHandlerDoneFunction) => {
      const context = new RequestContext(new FastifyHttpExchange(request, reply, app, graceMs))
      ;(request as MortarRequest)[kContext] = context
      reply.header(REQUEST_ID_HEADER, context.requestId)
      enterRequestContext(context)
      // A malformed escape outside a route parameter (which the router refuses itself, see
      // frameworkErrors below) reaches here.
      // The app's own querystringParser may keep one of a repeated key's values (see
      // repeatedKeyReadAsOne); Fastify has parsed the query by now.
      const refused =
        malformedPathRefusal(request.url) ?? repeatedKeyReadAsOne(request.url, request.query)
      if (refused) return next(refused)
      const started = runRequestStartHooks(app, context)
      if (started === undefined) next()
      else started.then(() => proceedUnlessBroken(request, next), next)
    },
  )

  // A compressed body is decoded here, for every parser, as every adapter decodes one (see
  // decodingStream: within the route's limit, 415 for a coding none decodes); its
  // content-encoding is then dropped, so a decompressing hook registered later (such as
  // @fastify/compress's) does not decode it twice. Fastify's JSON parser (and any an app adds)
  // decodes a body leniently: a JSON body's bytes are checked on the way in, so one that is not
  // UTF-8 is a 400 whatever parser reads it. A JSON body in another charset is a 415, as under
  // every adapter (Fastify's parser reads it as UTF-8).
  fastify.addHook('preParsing', (request, _reply, payload, next) => {
    const headers = request.headers
    const type = headers['content-type']
    const refused = isJsonType(type) ? charsetRefusal(type) : undefined
    if (refused) return next(refused)
    let body: Readable = payload
    if (headers['content-encoding'] !== undefined && hasBody(headers)) {
      let coding: ContentCoding | undefined
      try {
        coding = contentCoding(headers['content-encoding'])
      } catch (error) {
        return next(error as Error)
      }
      if (coding !== undefined) {
        body = decodingStream(payload, coding, request.routeOptions.bodyLimit)
        delete headers['content-encoding']
      }
    }
    next(null, isJsonType(type) ? utf8Checked(body) : body)
  })

  // Modules' before-response hooks (auth's verify-authorized) see every successful result before
  // it is sent, whatever its type: onSend, because preSerialization skips strings and buffers.
  // An app without such hooks gets no onSend hook at all. A hook that throws goes to the error
  // handler, whose problem replaces the payload.
  if (claimBeforeResponseHooks(app, 'mortarFastify')) {
    fastify.addHook(
      'onSend',
      (request: FastifyRequest, reply: FastifyReply, _payload: unknown, next: OnSendDone) => {
        const context = (request as MortarRequest)[kContext]
        if (!hasBeforeResponseHooks(app) || context === null || problems.has(reply)) next()
        else if (currentRequestContext() === context) checkResponse(app, context, reply, next)
        else runInRequestContext(context, () => checkResponse(app, context, reply, next))
      },
    )
  }

  // An event stream never ends by itself: it is ended when the server closes, which would
  // otherwise wait on it for good.
  endEventStreamsOnClose(fastify.server)

  // What the server's HTTP parser refuses (a bad header, a malformed chunk) Fastify's own
  // clientErrorHandler answers with a JSON body of its own: a problem instead, as under every
  // adapter (see answerClientErrors). An app's own clientErrorHandler is kept.
  answerFastifyClientErrors(fastify)

  // Hooks of the app's own plugins added from now on (an audit onResponse, an onSend that
  // signs) are work of the request like the handler: the scope outlives them.
  holdScopeThroughHooks(fastify, contextOf)

  fastify.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    sendProblem(error, request as MortarRequest, reply, logger)
  })

  // What Fastify's router refuses before any hook (a parameter it cannot decode, one past
  // maxParamLength) it answers with a body of its own, unless the server has frameworkErrors: set
  // here, on the server's options, where the router reads it per request. An app's own is kept.
  const serverOptions = optionsOf(fastify)
  if (serverOptions !== undefined) {
    serverOptions.frameworkErrors ??= (error, request, reply) => {
      // Made by the router before any hook: the request has no context (see sendProblem).
      sendProblem(error, request as unknown as MortarRequest, reply as FastifyReply, logger)
    }
  }

  fastify.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) => {
    const error = new NotFoundError('No route matches this method and path.')
    sendProblem(error, request as MortarRequest, reply, logger)
  })

  done()
}

// Hooks and routes added before the plugin run without its counting (their work may outlive
// the scope it uses), a route without its body limit, and an onRequest hook outside the
// context: refused, each named, rather than left to fail one request at a time.
function registeredBefore(fastify: FastifyInstance): string[] {
  const problems: string[] = []
  const hooks = hooksOf(fastify)
  if (hooks === undefined) {
    return [
      'This Fastify keeps its hooks where mortarFastify cannot check them: use Fastify 5, whose hooks it checks, so none runs uncounted before it.',
    ]
  }
  for (const name of REQUEST_HOOKS) {
    if ((hooks[name]?.length ?? 0) > 0) {
      problems.push(
        `A ${name} hook was added before mortarFastify: register mortarFastify first, so the hook runs in the request's context and keeps its scope while it runs.`,
      )
    }
  }
  if (fastify.printRoutes() !== EMPTY_ROUTES) {
    problems.push(
      'Routes were declared before mortarFastify: register mortarFastify first, so each route gets its body limit and keeps its request scope while its handler runs.',
    )
  }
  return problems
}

// Fastify has no public list of an instance's hooks (nor hasHook): its own symbol, found by
// its name, holds them per name.
function hooksOf(fastify: FastifyInstance): Record<string, unknown[] | undefined> | undefined {
  return symbolValue(fastify, 'fastify.hooks') as Record<string, unknown[] | undefined> | undefined
}

// The value an instance (or the instance it was made from) keeps under Fastify's symbol named
// `description`.
function symbolValue(fastify: FastifyInstance, description: string): unknown {
  for (
    let instance: object | null = fastify;
    instance !== null;
    instance = Object.getPrototypeOf(instance)
  ) {
    const key = Object.getOwnPropertySymbols(instance).find((s) => s.description === description)
    if (key !== undefined) return Reflect.get(instance, key)
  }
  return undefined
}

// The server's options as Fastify keeps them, by its own symbol (as hooksOf finds the hooks).
function optionsOf(
  fastify: FastifyInstance,
): { frameworkErrors?: FastifyServerOptions['frameworkErrors'] } | undefined {
  return symbolValue(fastify, 'fastify.options') as
    | { frameworkErrors?: FastifyServerOptions['frameworkErrors'] }
    | undefined
}

// Fastify's own listener answers the parser's errors with a JSON body of its own: it is replaced
// by Mortar's. A clientErrorHandler the app gave Fastify (a listener of another name) is kept.
function answerFastifyClientErrors(fastify: FastifyInstance): void {
  const server = fastify.server
  const fastifys = server
    .listeners('clientError')
    .filter((listener) => listener.name === 'bound defaultClientErrorHandler')
  if (fastifys.length === 0 && server.listenerCount('clientError') > 0) return
  for (const listener of fastifys) server.off('clientError', listener as () => void)
  answerClientErrors(server)
}

// The parser refused what followed the head (a malformed chunk) while the request-start hooks
// ran, and answered it: the request is broken, and nothing more of it runs.
function proceedUnlessBroken(request: FastifyRequest, next: HookHandlerDoneFunction): void {
  if (!isBrokenConnection(request.raw.socket)) next()
}

// What Fastify's printRoutes() says of a router with no route yet.
const EMPTY_ROUTES = '(empty tree)'

// What fastify-plugin does, without depending on it: run in the parent's scope, under a name.
Object.defineProperty(mortarFastify, Symbol.for('skip-override'), { value: true })
Object.defineProperty(mortarFastify, Symbol.for('fastify.display-name'), { value: 'mortar' })

type OnSendDone = (error?: Error | null) => void

function exchangeOf(request: unknown): FastifyHttpExchange | undefined {
  const http = (request as MortarRequest)[kContext]?.http
  return http instanceof FastifyHttpExchange ? http : undefined
}

function contextOf(
  request: unknown,
): { context: RequestContext; exchange: FastifyHttpExchange } | undefined {
  const context = (request as MortarRequest)[kContext]
  if (context === null) return undefined
  const exchange = context.http
  return exchange instanceof FastifyHttpExchange ? { context, exchange } : undefined
}

// A client that goes away closes the response while the handler may still run: the request's
// lifecycle, and its scope (a transaction, a session), runs on until the handler settles, as
// Fastify waits on what it returns.
function holdingScope(handler: RouteHandlerMethod): RouteHandlerMethod {
  return function scopedHandler(this: FastifyInstance, request, reply) {
    const http = exchangeOf(request)
    if (http === undefined) return handler.call(this, request, reply)
    let result: unknown
    try {
      result = handler.call(this, request, reply)
    } catch (error) {
      http.handled(undefined)
      throw error
    }
    http.handled(result)
    return result
  } as RouteHandlerMethod
}

// The body as it arrives, failing at the first byte that is not UTF-8 (see utf8Check); Fastify
// answers a failed body stream with its error, here a 400 problem.
function utf8Checked(payload: Readable): Readable {
  const check = utf8Check()
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        check(chunk)
        callback(null, chunk)
      } catch (error) {
        callback(error as Error)
      }
    },
    flush(callback) {
      try {
        check()
        callback()
      } catch (error) {
        callback(error as Error)
      }
    },
  })
  payload.on('error', (error: Error) => checked.destroy(error))
  // A decoded body's count of the bytes that arrived, which Fastify checks against its limit and
  // its content-length, is read from the stream it is handed: this one.
  if ('receivedEncodedLength' in payload) {
    Object.defineProperty(checked, 'receivedEncodedLength', {
      get: () => (payload as { receivedEncodedLength?: unknown }).receivedEncodedLength,
    })
  }
  return payload.pipe(checked)
}

function checkResponse(
  app: AdapterApp,
  context: RequestContext,
  reply: FastifyReply,
  next: OnSendDone,
): void {
  const refuse = (error: unknown) => {
    // The problem goes out on this reply: nothing of the refused result's head goes with it.
    for (const name of REFUSED_RESULT_HEADERS) reply.removeHeader(name)
    next(asError(error))
  }
  let checked: Promise<void> | undefined
  try {
    checked = runBeforeResponseHooks(app, context)
  } catch (error) {
    refuse(error)
    return
  }
  if (checked === undefined) {
    next()
    return
  }
  // The hooks run on whether or not the client stays: the scope stays with them.
  const http = context.http as FastifyHttpExchange
  http.hold()
  checked.then(
    () => {
      next()
      http.release()
    },
    (error: unknown) => {
      refuse(error)
      http.release()
    },
  )
}

// Fastify treats a falsy or non-Error rejection as "no error": wrap it so it still fails.
function asError(error: unknown): Error {
  return error instanceof Error
    ? error
    : new Error('A before-response hook failed.', { cause: error })
}

function sendProblem(
  error: unknown,
  request: MortarRequest,
  reply: FastifyReply,
  logger: Logger,
): void {
  problems.add(reply)
  // What modules appended for a result (a session's cookie) does not go out with its problem.
  const http = request[kContext]?.http
  if (http instanceof FastifyHttpExchange) {
    http.withdrawAppended()
    http.repliedWithoutHandler()
  }
  // An error raised before onRequest (a malformed URL) has no context yet: give it an id anyway.
  const requestId = request[kContext]?.requestId ?? contextlessId(request)
  const problem = renderHttpError(error, {
    logger,
    requestId,
    method: request.method,
    url: request.url,
  })
  reply
    .code(problem.status)
    .headers(problem.headers)
    .header(REQUEST_ID_HEADER, requestId)
    .send(JSON.stringify(problem.body))
}

function contextlessId(request: FastifyRequest): string {
  return new RequestContext({
    requestId: firstHeader(request.headers[REQUEST_ID_HEADER]),
    createScope: noScope,
  }).requestId
}

function noScope(): never {
  throw new Error('This request failed before Mortar opened its context; it has no scope.')
}
