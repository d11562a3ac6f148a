import type { IncomingMessage, ServerResponse } from 'node:http'
import { RequestContext } from '../../context/index.js'
import type { AdapterApp } from './adapter-app.js'
import { disposeRequestScope } from './dispose-request-scope.js'
import { forgetResponse, trackResponse } from './event-streams.js'
import { NodeHttpExchange } from './node-http-exchange.js'
import { firstHeader, REQUEST_ID_HEADER } from './request-id-header.js'

/**
 * Opens the request context of a node:http request (the node:http and Express adapters): echoes
 * its request id and, when the response closes, aborts the context's signal if the client went
 * away before the end, then disposes the scope.
 */
export function nodeContextOpener(
  app: AdapterApp,
  bodyLimit: number,
): (request: IncomingMessage, response: ServerResponse) => RequestContext {
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
    trackResponse(request, response, context)
    response.once('close', () => {
      forgetResponse(request, response)
      if (!response.writableFinished) context.abort()
      disposeRequestScope(app, context)
    })
    return context
  }
}
