import type { IncomingMessage, ServerResponse } from 'node:http'
import { currentRequestContext } from '../../context/index.js'
import {
  alreadyReadBody,
  DEFAULT_BODY_LIMIT,
  type FetchHandler,
  mountedTarget,
  normalizeMountPrefix,
  originOf,
  readBody,
  sendFetchResponse,
  toFetchRequest,
} from '../shared/index.js'

/**
 * Options of {@link toNodeHandler}.
 *
 * @example
 * ```ts
 * import { toNodeHandler, type ToNodeHandlerOptions } from '@mortar/core/node'
 *
 * const options: ToNodeHandlerOptions = { prefix: '/admin/analytics' }
 * const pages = toNodeHandler(dashboard, options)
 * ```
 */
export interface ToNodeHandlerOptions {
  /**
   * Serve only requests under this path, and give the handler their URL without it. Not needed
   * under Express, whose `server.use(prefix, …)` already removes the prefix.
   */
  readonly prefix?: string
}

/**
 * Turns a {@link FetchHandler} into a node:http handler that also works as Express 5
 * middleware. Behind `withMortar` or `mortarExpress` it runs inside the request context (the
 * session and principal are there, a refused CSRF check never reaches it, before-response hooks
 * see its response), reads the body up to the adapter's limit (413 past it), and gives the
 * handler an abort signal that fires when the client goes away. With `prefix`, a request outside
 * it is left unanswered, so `withMortar` answers it with a 404 problem.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * import { createApp } from '@mortar/core'
 * import { toNodeHandler, withMortar } from '@mortar/core/node'
 *
 * const app = createApp({ modules: [] })
 * await app.start()
 * const pages = toNodeHandler(() => new Response('<h1>Hello</h1>'), { prefix: '/pages' })
 * createServer(withMortar(app, pages)).listen(3000)
 * ```
 */
export function toNodeHandler(
  handler: FetchHandler,
  options: ToNodeHandlerOptions = {},
): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
  const prefix = options.prefix === undefined ? '' : normalizeMountPrefix(options.prefix)
  return async function fetchHandler(request, response) {
    const target = mountedTarget(request.url ?? '/', prefix)
    if (target === undefined) return
    const context = currentRequestContext()
    const method = request.method ?? 'GET'
    // A parser before this one (express.json(), express.raw()) read the stream and inflated it.
    const parsed = method === 'GET' || method === 'HEAD' ? undefined : alreadyReadBody(request)
    const body =
      parsed ??
      (method === 'GET' || method === 'HEAD'
        ? undefined
        : await readBody(request, context?.http?.bodyLimit ?? DEFAULT_BODY_LIMIT))
    const answer = await handler(
      toFetchRequest({
        method,
        headers: request.headers,
        origin: originOf(request),
        target,
        body,
        decoded: parsed !== undefined,
        signal: context?.signal,
      }),
    )
    await sendFetchResponse(response, answer, method)
  }
}
