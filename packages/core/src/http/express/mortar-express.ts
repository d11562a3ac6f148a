import { isUtf8 } from 'node:buffer'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express'
import {
  hasBeforeResponseHooks,
  RequestContext,
  runInRequestContext,
  runRequestStartHooks,
} from '../../context/index.js'
import { BadRequestError, type MortarError, NotFoundError } from '../../errors/index.js'
import type { Logger } from '../../logger/logger.js'
import {
  type AdapterApp,
  answerClientErrorsOf,
  charsetRefusal,
  declaredTooLarge,
  firstHeader,
  gateResponse,
  isBrokenConnection,
  isEndHeld,
  isJsonType,
  keepRawBody,
  MALFORMED_JSON_MESSAGE,
  malformedPathRefusal,
  nodeContextOpener,
  NodeHttpExchange,
  openResponseGate,
  REQUEST_ID_HEADER,
  refusePrototypeKeys,
  renderHttpError,
  repeatedKeyReadAsOne,
  resolveBodyLimit,
  resolveScopeGraceMs,
} from '../shared/index.js'
import { StartupError } from '../../app/startup-error.js'
import { countRouteHandlers } from './count-route-handlers.js'

const kContext = Symbol.for('mortar.express.context')
const kApp = Symbol.for('mortar.express.app')
const kRouteDone = Symbol.for('mortar.express.routeDone')

interface MortarRequest extends Request {
  [kContext]?: RequestContext
  [kApp]?: AdapterApp
  [kRouteDone]?: () => void
}

/**
 * Options of {@link mortarExpress}.
 *
 * @example
 * ```ts
 * import { mortarExpress, type MortarExpressOptions } from '@mortar/core/express'
 *
 * const options: MortarExpressOptions = { bodyLimit: 64 * 1024 }
 * server.use(mortarExpress(app, options))
 * ```
 */
export interface MortarExpressOptions {
  /**
   * The largest request body accepted, in bytes (default 1 MiB): a request that declares more is
   * answered 413 before any route runs, and mounted fetch handlers stop reading a chunked body
   * past it. Body parsers mounted before keep their own limits (`express.json()`: 100 KB).
   */
  readonly bodyLimit?: number
  /**
   * How long, in ms, work of a request that has not settled (its request-start hooks, a handler
   * whose promise has not settled, a route that has not ended its response, before-response
   * hooks) keeps the request's scope once the response is over (default 30,000): past it the scope is disposed, with a warning naming the
   * request, and a later `resolve` in that request fails with `E_RESOLUTION`.
   */
  readonly scopeGraceMs?: number
}

/**
 * Express 5 middleware that runs the rest of the request inside a Mortar request context (request
 * id, scope, slots), echoes `x-request-id`, and disposes the scope when the response ends. A
 * client that goes away aborts the context's signal at once, but the request's hooks and route
 * keep its scope (a transaction, a session) until they are done with it, or for at most
 * `scopeGraceMs`: every handler the router calls after it counts until it returns or its promise
 * settles, as Express's router (2.3 or later) tells on its tracing channel. Under an older router,
 * which tells nothing, no handler would count: every request is refused with a
 * `StartupError` (`E_STARTUP`, a logged 500) saying to update it. When the app has before-response
 * hooks, a route's response is held back when it starts to be sent (`res.json`, `res.end` …)
 * until they pass; a hook that throws turns it into a problem. Mount body parsers such as
 * `express.json()` before it: a parser resumes the chain from a stream callback, which may run
 * outside the context, so the context is opened after parsing. Add {@link mortarNotFound} and
 * {@link mortarErrorHandler} after the routes.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { createApp, requestContext } from '@mortar/core'
 * import {
 *   mortarErrorHandler,
 *   mortarExpress,
 *   mortarNotFound,
 *   verifyUtf8Json,
 * } from '@mortar/core/express'
 *
 * const app = createApp({ modules: [] })
 * const server = express()
 * server.use(express.json({ limit: '100kb', verify: verifyUtf8Json }))
 * server.use(mortarExpress(app))
 * server.get('/me', (req, res) => {
 *   res.json({ requestId: requestContext().requestId })
 * })
 * server.use(mortarNotFound())
 * server.use(mortarErrorHandler())
 * server.listen(3000)
 * ```
 */
export function mortarExpress(app: AdapterApp, options: MortarExpressOptions = {}): RequestHandler {
  const bodyLimit = resolveBodyLimit(options.bodyLimit)
  const openContext = nodeContextOpener(app, bodyLimit, resolveScopeGraceMs(options.scopeGraceMs))
  const countHandlers = countRouteHandlers()
  // Decided at the first request: whether the router that calls Mortar traces its calls.
  let untraced: StartupError | false | undefined
  return function mortar(request, response, next) {
    const req = request as MortarRequest
    untraced ??= !countHandlers.traced(request) && untracedRouter()
    if (untraced) {
      req[kApp] = app
      return next(untraced)
    }
    // A server not handed to answerClientErrors answers its parser's errors from here on.
    answerClientErrorsOf(request.socket)
    const { context, end } = openContext(request, response)
    countHandlers.register(request, end)
    req[kContext] = context
    req[kApp] = app
    // The route counts as running from here (see nodeContextOpener) until it is done: once.
    let routeRunning = true
    const routeDone = () => {
      if (!routeRunning) return
      routeRunning = false
      end.release()
    }
    req[kRouteDone] = routeDone
    // Heard before the context opener's close: a route done by then needs no grace timer.
    response.prependOnceListener('close', () => watchRouteEnd(response, routeDone))
    // Express has no result to check: the gate runs before-response hooks when a route starts
    // its response. Installed only for an app that has such hooks.
    if (hasBeforeResponseHooks(app)) {
      gateResponse({
        app,
        context,
        end,
        response,
        sendProblem: (error) => sendProblem(error, req, response, undefined),
      })
    }
    runInRequestContext(context, () => {
      const refused =
        malformedPathRefusal(request.originalUrl) ?? declaredTooLarge(request.headers, bodyLimit)
      if (refused) return next(refused)
      // The parsers mounted before ran JSON.parse (or qs) on the body: its __proto__ key is a
      // 400 here, as under every other adapter. The app's own `query parser` may keep one of a
      // repeated key's values (see repeatedKeyReadAsOne).
      try {
        refusePrototypeKeys(request.body)
        const picked = repeatedKeyReadAsOne(request.originalUrl, request.query)
        if (picked) return next(picked)
      } catch (error) {
        return next(error)
      }
      // Modules' request-start hooks (session, principal) finish before any handler runs.
      // The parser refused what followed the head (a malformed chunk) and answered it: the
      // request is broken, and no route runs for it.
      const proceed = () => {
        if (!isBrokenConnection(request.socket)) next()
      }
      const started = runRequestStartHooks(app, context)
      if (started === undefined) proceed()
      else started.then(proceed, next)
    })
  }
}

function untracedRouter(): StartupError {
  return new StartupError([
    "mortarExpress was called by a router that does not trace its handlers (Express's router before 2.3, or no Express router at all): the handlers after it would run uncounted, and the request's scope could be disposed under a route still using it; update Express's router package to 2.3 or later (npm update router) and mount mortarExpress with server.use().",
  ])
}

// Express drops the promise a route returns, so a route is known to be done when it ends its
// response (or reaches mortarNotFound or mortarErrorHandler, which do). Heard at the close: ended
// by then (or held back by before-response hooks that check it), the route is done; cut short by
// the client, the route may still run, so the request's end waits for the route's own end(), for
// at most its scopeGraceMs (a route that returned with the response open, an event stream, never
// calls it).
function watchRouteEnd(response: ServerResponse, routeDone: () => void): void {
  if (response.writableEnded || isEndHeld(response)) {
    routeDone()
    return
  }
  const endResponse = response.end
  response.end = function releaseThenEnd(this: ServerResponse, ...args: unknown[]) {
    response.end = endResponse
    const ended = Reflect.apply(endResponse, this, args) as ServerResponse
    routeDone()
    return ended
  } as ServerResponse['end']
}

/**
 * The `verify` option for `express.json()`: a body that is not UTF-8 is answered with a 400
 * problem (`E_BAD_REQUEST`), as every other adapter answers it. Without it, `express.json()`
 * reads such bytes as U+FFFD, so the app would keep text the client never sent; Express's parsers
 * run before {@link mortarExpress}, so this is the one place the bytes can be checked. It also
 * keeps the bytes, so a fetch handler mounted after the parser (`toNodeHandler`) gets the
 * body the client sent, not one re-encoded from `req.body`; give it to `express.urlencoded()`
 * and `express.text()` for that too.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { verifyUtf8Json } from '@mortar/core/express'
 *
 * server.use(express.json({ limit: '100kb', verify: verifyUtf8Json }))
 * ```
 */
export function verifyUtf8Json(
  request: IncomingMessage,
  _response: ServerResponse,
  body: Buffer,
): void {
  const type = request.headers['content-type']
  // A body declared in another charset (UTF-16, which the parsers decode) is refused by its
  // declaration, as under every adapter, whether or not its bytes pass as UTF-8.
  const refused = charsetRefusal(type)
  if (refused) throw refused
  if (!isUtf8(body)) throw notUtf8(type)
  keepRawBody(request, body)
}

/**
 * The error for a body that is not UTF-8, by its declared type: given to `express.urlencoded()`
 * or `express.text()`, a form or a text is not "not valid JSON".
 */
function notUtf8(type: string | undefined): MortarError {
  if (isJsonType(type)) return new BadRequestError(MALFORMED_JSON_MESSAGE)
  const media = type?.split(';')[0]?.trim() || 'without a content type'
  return new BadRequestError(`The request body (${media}) is not valid UTF-8; send it as UTF-8.`)
}

/**
 * Options of {@link mortarErrorHandler}.
 *
 * @example
 * ```ts
 * import { createLogger } from '@mortar/core'
 * import { mortarErrorHandler } from '@mortar/core/express'
 *
 * server.use(mortarErrorHandler({ logger: createLogger() }))
 * ```
 */
export interface MortarErrorHandlerOptions {
  /**
   * Where 5xx errors are logged when the request failed before {@link mortarExpress} ran;
   * after it, the app's logger is used.
   */
  readonly logger?: Logger
}

/**
 * Express error middleware that renders any error as problem+json: a Mortar error with its
 * status, code and detail; body-parser's malformed JSON as a 400 and too large body as a 413;
 * another error with a 4xx `status` with that status and a safe message; anything else as a 500
 * that shows nothing and is logged with the request id. Mount it last.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { mortarErrorHandler } from '@mortar/core/express'
 *
 * const server = express()
 * // ... body parsers, mortarExpress(app), routes, mortarNotFound()
 * server.use(mortarErrorHandler())
 * ```
 */
export function mortarErrorHandler(options: MortarErrorHandlerOptions = {}): ErrorRequestHandler {
  return function mortarError(error: unknown, request, response, next) {
    // Express's own handler closes a response that is already under way: the route is done.
    if (response.headersSent) {
      ;(request as MortarRequest)[kRouteDone]?.()
      return next(error)
    }
    sendProblem(error, request as MortarRequest, response, options.logger)
  }
}

/**
 * Express middleware for after the routes: answers every request that reached it with a 404
 * problem (`E_NOT_FOUND`).
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { mortarNotFound } from '@mortar/core/express'
 *
 * const server = express()
 * // ... mortarExpress(app), routes
 * server.use(mortarNotFound())
 * ```
 */
export function mortarNotFound(): RequestHandler {
  return function notFound(request, response) {
    sendProblem(
      new NotFoundError('No route matches this method and path.'),
      request as MortarRequest,
      response,
      undefined,
    )
  }
}

function sendProblem(
  error: unknown,
  request: MortarRequest,
  response: Response,
  logger: Logger | undefined,
): void {
  // An error is not a result to check; after a failed hook, its problem is already out.
  if (!openResponseGate(response)) return
  // What modules appended for a result (a session's cookie) does not go out with its problem.
  const http = request[kContext]?.http
  if (http instanceof NodeHttpExchange) http.withdrawAppended()
  const requestId =
    request[kContext]?.requestId ??
    new RequestContext({
      requestId: firstHeader(request.headers[REQUEST_ID_HEADER]),
      createScope: noScope,
    }).requestId
  const problem = renderHttpError(error, {
    logger: request[kApp]?.logger ?? logger,
    requestId,
    method: request.method,
    url: request.originalUrl,
  })
  response.removeHeader('content-length')
  response.removeHeader('content-encoding')
  response.status(problem.status)
  response.set(problem.headers)
  response.set(REQUEST_ID_HEADER, requestId)
  response.send(JSON.stringify(problem.body))
}

function noScope(): never {
  throw new Error(
    'This request failed before mortarExpress(app) opened its context; it has no scope.',
  )
}
