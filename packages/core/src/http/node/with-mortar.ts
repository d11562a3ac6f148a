import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  hasBeforeResponseHooks,
  RequestContext,
  runInRequestContext,
  runRequestStartHooks,
} from '../../context/index.js'
import { NotFoundError } from '../../errors/index.js'
import {
  type AdapterApp,
  answerClientErrorsOf,
  declaredTooLarge,
  gateResponse,
  isBrokenConnection,
  malformedPathRefusal,
  isResponseHeld,
  nodeContextOpener,
  NodeHttpExchange,
  openResponseGate,
  type RequestEnd,
  renderHttpError,
  resolveBodyLimit,
  resolveScopeGraceMs,
} from '../shared/index.js'

/**
 * A node:http handler for {@link withMortar}. Return a promise that settles once it has
 * responded: a handler that settles without responding gets a 404 problem.
 *
 * @example
 * ```ts
 * import type { NodeHandler } from '@mortar/core/node'
 *
 * const health: NodeHandler = async (req, res) => {
 *   if (req.url === '/health') res.end('ok')
 * }
 * ```
 */
export type NodeHandler = (
  request: IncomingMessage,
  response: ServerResponse,
) => void | Promise<void>

/**
 * Options of {@link withMortar}.
 *
 * @example
 * ```ts
 * import { withMortar, type WithMortarOptions } from '@mortar/core/node'
 *
 * const options: WithMortarOptions = { bodyLimit: 64 * 1024 }
 * const listener = withMortar(app, handler, options)
 * ```
 */
export interface WithMortarOptions {
  /**
   * The largest request body accepted, in bytes (default 1 MiB): a request that declares more is
   * answered 413 before the handler runs, and `readJson` and mounted fetch handlers stop reading
   * a chunked body past it.
   */
  readonly bodyLimit?: number
  /**
   * How long, in ms, work of a request that has not settled (its request-start hooks, the
   * handler, before-response hooks) keeps the request's scope once the response is over (default
   * 30,000): past it the scope is disposed, with a warning naming the request, and a later
   * `resolve` in that request fails with `E_RESOLUTION`.
   */
  readonly scopeGraceMs?: number
}

/**
 * Wraps a node:http handler so that it runs inside a Mortar request context (request id, scope,
 * slots): `x-request-id` is echoed, a body declared over the limit is refused with a 413 problem,
 * a thrown error is rendered as problem+json, a handler that settles without responding gets a
 * 404 problem, and the scope is disposed once the response is over and the request's hooks and
 * handler have settled: a client that goes away aborts the context's signal at once, but they
 * keep the scope (a transaction, a session) until they are done, or for at most `scopeGraceMs`
 * after the response is over. When the app has
 * before-response hooks, the response is held back at its first `writeHead`, `write`, `end` or
 * `flushHeaders` until they pass; a hook that throws turns it into a problem.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { createApp, requestContext } from '@mortar/core'
 * import { withMortar } from '@mortar/core/node'
 *
 * const app = createApp({ modules: [] })
 * const server = createServer(
 *   withMortar(app, async (req, res) => {
 *     if (req.url !== '/me') return // answered with a 404 problem
 *     res.setHeader('content-type', 'application/json')
 *     res.end(JSON.stringify({ requestId: requestContext().requestId }))
 *   }),
 * )
 * server.listen(3000)
 * ```
 */
export function withMortar(
  app: AdapterApp,
  handler: NodeHandler,
  options: WithMortarOptions = {},
): (request: IncomingMessage, response: ServerResponse) => void {
  const bodyLimit = resolveBodyLimit(options.bodyLimit)
  const openContext = nodeContextOpener(app, bodyLimit, resolveScopeGraceMs(options.scopeGraceMs))
  return function mortarListener(request, response) {
    // A server not handed to answerClientErrors answers its parser's errors from here on.
    answerClientErrorsOf(request.socket)
    const { context, end } = openContext(request, response)
    runInRequestContext(context, () => {
      // The scope outlives a client that went away until the hooks and handler are done with it.
      void serve(handler, request, response, context, end, app, bodyLimit).finally(() =>
        end.release(),
      )
    })
  }
}

async function serve(
  handler: NodeHandler,
  request: IncomingMessage,
  response: ServerResponse,
  context: RequestContext,
  end: RequestEnd,
  app: AdapterApp,
  bodyLimit: number,
): Promise<void> {
  try {
    const refused =
      malformedPathRefusal(request.url ?? '/') ?? declaredTooLarge(request.headers, bodyLimit)
    if (refused) throw refused
    // Modules' request-start hooks (session, principal) finish before the handler runs.
    await runRequestStartHooks(app, context)
    // The parser refused what followed the head (a malformed chunk) and answered it: the
    // request is broken, and the response is already out.
    if (isBrokenConnection(request.socket)) return
    // node:http has no result to check: the gate runs before-response hooks when the handler
    // first writes. Installed only for an app that has such hooks.
    if (hasBeforeResponseHooks(app)) {
      gateResponse({
        app,
        context,
        end,
        response,
        sendProblem: (error) => sendProblem(error, request, response, context, app),
      })
    }
    await handler(request, response)
    if (!response.headersSent && !response.writableEnded && !isResponseHeld(response)) {
      sendProblem(
        new NotFoundError('No route matches this method and path.'),
        request,
        response,
        context,
        app,
      )
    }
  } catch (error) {
    sendProblem(error, request, response, context, app)
  }
}

function sendProblem(
  error: unknown,
  request: IncomingMessage,
  response: ServerResponse,
  context: RequestContext,
  app: AdapterApp,
): void {
  // An error is not a result to check; after a failed hook, its problem is already out.
  if (!openResponseGate(response)) return
  // What modules appended for a result (a session's cookie) does not go out with its problem.
  if (context.http instanceof NodeHttpExchange) context.http.withdrawAppended()
  const problem = renderHttpError(error, {
    logger: app.logger,
    requestId: context.requestId,
    method: request.method ?? 'GET',
    url: request.url ?? '/',
  })
  if (response.headersSent || response.destroyed) {
    // Part of another response is already out: all we can do is cut it short.
    response.destroy()
    return
  }
  response.removeHeader('content-length')
  response.removeHeader('content-encoding')
  response.statusCode = problem.status
  for (const [name, value] of Object.entries(problem.headers)) response.setHeader(name, value)
  response.end(JSON.stringify(problem.body))
}
