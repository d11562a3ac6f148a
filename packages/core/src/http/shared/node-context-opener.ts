import type { IncomingMessage, ServerResponse } from 'node:http'
import { RequestContext } from '../../context/index.js'
import type { AdapterApp } from './adapter-app.js'
import { forgetResponse, trackResponse } from './event-streams.js'
import { NodeHttpExchange } from './node-http-exchange.js'
import { RequestEnd } from './request-end.js'
import { firstHeader, REQUEST_ID_HEADER } from './request-id-header.js'

/** A request whose context is open: its context, and what ends it. */
export interface OpenedRequest {
  readonly context: RequestContext
  /**
   * Counts its handler as running from the start: release it once the handler settled, and
   * hold more work that may use the scope (see {@link RequestEnd}).
   */
  readonly end: RequestEnd
}

/**
 * Opens the request context of a node:http request (the node:http and Express adapters): echoes
 * its request id and, when the response closes, aborts the context's signal if the client went
 * away before the end, and ends the request as {@link RequestEnd} says, its handler counted as
 * running from the start.
 */
export function nodeContextOpener(
  app: AdapterApp,
  bodyLimit: number,
  scopeGraceMs: number,
): (request: IncomingMessage, response: ServerResponse) => OpenedRequest {
  const createScope = () => app.createScope()
  return (request, response) => {
    const headers = request.headers
    const context = new RequestContext({
      requestId: firstHeader(headers[REQUEST_ID_HEADER]),
      ip: request.socket.remoteAddress,
      userAgent: headers['user-agent'],
      acceptLanguage: headers['accept-language'],
      http: new NodeHttpExchange(request, response, bodyLimit),
      createScope,
    })
    response.setHeader(REQUEST_ID_HEADER, context.requestId)
    const end = new RequestEnd(app, context, scopeGraceMs, 1)
    trackResponse(request, response, context)
    response.once('close', () => {
      forgetResponse(request, response)
      if (!response.writableFinished) context.abort()
      end.responseClosed()
    })
    return { context, end }
  }
}
