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

// The request of the handler call the router announced last; one per process, as the
// subscription is, so an ESM and a CJS copy of Mortar read the same.
interface Tracing {
  calling: IncomingMessage | undefined
}

const ends = processGlobal('mortar.express.requestEnds', () => new WeakMap<object, RequestEnd>())

/** What {@link countRouteHandlers} gives `mortarExpress`. */
export interface RouteHandlerCount {
  /** Counts the handlers the router calls for `request` as work of its `end`. */
  register(request: IncomingMessage, end: RequestEnd): void
  /**
   * Whether the router announced the handler call now running for `request` on its tracing
   * channel: false under a router before 2.3, which has none, so no handler would be counted.
   */
  traced(request: IncomingMessage): boolean
}

/**
 * Counts every handler Express's router calls for a request that `mortarExpress` opened
 * (middleware, routes, error handlers, after Mortar's or nested in routers) as work of the
 * request while it runs, a promise it returned until it settles: a route that answers and then
 * writes an audit row, or a middleware the route passes on to after its response, keeps the
 * request's scope until done. Express's own promise handling says nothing of a settle; its
 * router's tracing channel does. Subscribes once per process.
 */
export function countRouteHandlers(): RouteHandlerCount {
  const tracing = processGlobal('mortar.express.handlerTracing', subscribe)
  return {
    register(request, end) {
      ends.set(request, end)
    },
    traced: (request) => tracing.calling === request,
  }
}

function subscribe(): Tracing {
  const tracing: Tracing = { calling: undefined }
  const held = new WeakMap<object, RequestEnd>()
  const release = (trace: HandlerTrace) => {
    const end = held.get(trace)
    if (end === undefined) return
    held.delete(trace)
    end.release()
  }
  tracingChannel<string, HandlerTrace>('express.router.request').subscribe({
    start(trace) {
      tracing.calling = trace.req
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
  return tracing
}
