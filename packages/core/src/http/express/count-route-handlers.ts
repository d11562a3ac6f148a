import { tracingChannel } from 'node:diagnostics_channel'
import type { IncomingMessage } from 'node:http'
import { processGlobal } from '../../global/index.js'
import type { RequestEnd } from '../shared/index.js'

// What Express's router (2.3 and later) tells of each handler it calls: `start` as it calls it,
// `end` as the call returns (with `result` or `error` when it is done then), `asyncEnd` when the
// promise it returned settles.
interface HandlerTrace {
  readonly req: IncomingMessage
  readonly result?: unknown
  readonly error?: unknown
}

const ends = processGlobal('mortar.express.requestEnds', () => new WeakMap<object, RequestEnd>())

/**
 * Counts every handler Express's router calls for a request that `mortarExpress` opened
 * (middleware, routes, error handlers, after Mortar's or nested in routers) as work of the
 * request while it runs, a promise it returned until it settles: a route that answers and then
 * writes an audit row, or a middleware the route passes on to after its response, keeps the
 * request's scope until done. Express's own promise handling says nothing of a settle; its
 * router's tracing channel does. Subscribes once per process; returns what registers a request.
 */
export function countRouteHandlers(): (request: IncomingMessage, end: RequestEnd) => void {
  processGlobal('mortar.express.handlerTracing', subscribe)
  return (request, end) => {
    ends.set(request, end)
  }
}

function subscribe(): true {
  const held = new WeakMap<object, RequestEnd>()
  const release = (trace: HandlerTrace) => {
    const end = held.get(trace)
    if (end === undefined) return
    held.delete(trace)
    end.release()
  }
  tracingChannel<string, HandlerTrace>('express.router.request').subscribe({
    start(trace) {
      const end = ends.get(trace.req)
      if (end === undefined) return
      end.hold()
      held.set(trace, end)
    },
    // Done when the call returned, unless it returned a promise: then at its asyncEnd.
    end(trace) {
      if ('result' in trace || 'error' in trace) release(trace)
    },
    asyncStart() {},
    asyncEnd: release,
    error() {},
  })
  return true
}
