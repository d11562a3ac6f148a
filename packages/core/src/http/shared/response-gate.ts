import { processGlobal } from '../../global/index.js'
import type { ServerResponse } from 'node:http'
import {
  currentRequestContext,
  type RequestContext,
  runBeforeResponseHooks,
  runInRequestContext,
} from '../../context/index.js'
import type { AdapterApp } from './adapter-app.js'
import type { RequestEnd } from './request-end.js'

// The calls through which a node:http response starts to leave: each sends the head first.
const METHODS = ['writeHead', 'write', 'end', 'flushHeaders'] as const
type MethodName = (typeof METHODS)[number]
type Method = (...args: unknown[]) => unknown
type Call = readonly [MethodName, readonly unknown[]]

/**
 * Headers of a result that a before-response hook refused, removed before its problem is sent:
 * those describing the held-back body, and those acting on the browser or on caches (a cookie
 * it signs in with, where it redirects, how long it may be kept), which a refused result must
 * not do.
 */
export const REFUSED_RESULT_HEADERS: readonly string[] = [
  'content-length',
  'content-type',
  'content-encoding',
  'content-disposition',
  'content-range',
  'etag',
  'last-modified',
  'set-cookie',
  'location',
  'refresh',
  'cache-control',
  'expires',
]

interface Gate {
  state: 'closed' | 'checking' | 'open' | 'failed'
  readonly queue: Call[]
  /** The handler ended its response (the end may still be held back). */
  ended?: boolean
  /** What stands on the response in place of its methods. */
  wrappers: readonly Method[]
}

const gates = processGlobal('mortar.responseGates', () => new WeakMap<ServerResponse, Gate>())

// What a check returns when the calls it queued were not replayed at once.
const HELD = Symbol.for('mortar.responseGate.held')

/**
 * What {@link gateResponse} needs: the app, the request's context and end, and how to send a
 * problem.
 */
export interface ResponseGateOptions {
  readonly app: AdapterApp
  readonly context: RequestContext
  /** Holds the scope while hooks still check a response whose client has gone. */
  readonly end: RequestEnd
  readonly response: ServerResponse
  /** Sends `error` as a problem through the response's own methods. */
  readonly sendProblem: (error: unknown) => void
}

/**
 * Holds a node:http response back until the app's before-response hooks passed. node:http has
 * no result object to check: the first call that would send the head (`writeHead`, `write`,
 * `end`, `flushHeaders`) runs the hooks instead, and what the handler writes meanwhile is queued.
 * Once the hooks pass, the queue is replayed and the response's own methods are back, so the rest
 * of the request pays nothing; synchronous hooks (the usual case) replay at once. When a hook
 * throws, the queue is dropped, `sendProblem` sends the error, and later writes are ignored.
 * Adapters install it per request, and only for an app that has before-response hooks.
 */
export function gateResponse(options: ResponseGateOptions): void {
  const { app, context, end, response, sendProblem } = options
  const gate: Gate = { state: 'closed', queue: [], wrappers: [] }
  gates.set(response, gate)
  // What the wrappers stand in for, so that one called after the gate opened (someone kept a
  // reference to it, as Express's route-end watch does) still reaches the response.
  const originals = METHODS.map((method) => response[method] as Method)

  const pass = (): unknown => {
    if (gates.get(response) !== gate) return undefined
    release(response, gate)
    gate.state = 'open'
    let result: unknown
    for (const [method, args] of gate.queue) {
      result = Reflect.apply(response[method], response, args)
    }
    gate.queue.length = 0
    return result
  }
  const fail = (error: unknown): void => {
    if (gates.get(response) !== gate) return
    release(response, gate)
    for (const [, args] of gate.queue) settleCallback(args)
    gate.queue.length = 0
    for (const name of REFUSED_RESULT_HEADERS) response.removeHeader(name)
    gate.state = 'open'
    sendProblem(error)
    // The handler may still write what it meant to send: swallow it, the problem is out.
    gate.state = 'failed'
    gates.set(response, gate)
    gate.wrappers = METHODS.map((method) => {
      const swallow = (...args: unknown[]) => {
        settleCallback(args)
        return method === 'write' ? true : response
      }
      Reflect.set(response, method, swallow)
      return swallow
    })
  }
  const check = (): unknown => {
    gate.state = 'checking'
    let checked: Promise<void> | undefined
    try {
      checked = runBeforeResponseHooks(app, context)
    } catch (error) {
      fail(error)
      return HELD
    }
    if (checked === undefined) return pass()
    // The hooks run on whether or not the client stays: the scope stays with them.
    end.hold()
    checked.then(pass, fail).finally(() => end.release())
    return HELD
  }

  gate.wrappers = METHODS.map((method, index) => {
    const wrapper = (...args: unknown[]) => {
      if (gate.state === 'open') return Reflect.apply(originals[index] as Method, response, args)
      if (gate.state === 'failed') {
        settleCallback(args)
        return method === 'write' ? true : response
      }
      gate.queue.push([method, args])
      if (method === 'end') gate.ended = true
      if (gate.state === 'closed') {
        const result =
          currentRequestContext() === context ? check() : runInRequestContext(context, check)
        // Replayed at once: return what the real call returned.
        if (result !== HELD) return result
      }
      return method === 'write' ? true : response
    }
    Reflect.set(response, method, wrapper)
    return wrapper
  })
}

/**
 * Whether the handler has already started a response the gate holds back (hooks still running)
 * or replaced with a problem: the adapter must not answer it with a 404 of its own.
 */
export function isResponseHeld(response: ServerResponse): boolean {
  const gate = gates.get(response)
  return gate !== undefined && gate.state !== 'closed'
}

/**
 * Whether the handler has called `end()` on a response the gate holds back or replaced with a
 * problem: it is done with the response, though nothing has reached the client yet.
 */
export function isEndHeld(response: ServerResponse): boolean {
  return gates.get(response)?.ended === true
}

/**
 * Removes the gate without running the hooks, for a response that is an error the adapter
 * renders itself (before-response hooks are for successful results), and drops what it held
 * back. Returns `false` when a hook already failed and its problem was sent: send nothing more.
 */
export function openResponseGate(response: ServerResponse): boolean {
  const gate = gates.get(response)
  if (gate === undefined) return true
  if (gate.state === 'failed') return false
  gate.queue.length = 0
  release(response, gate)
  gate.state = 'open'
  return true
}

// A dropped write or end still calls its callback, so a handler awaiting it does not hang.
function settleCallback(args: readonly unknown[]): void {
  const callback = args.at(-1)
  if (typeof callback === 'function') process.nextTick(callback as () => void)
}

function release(response: ServerResponse, gate: Gate): void {
  gates.delete(response)
  // The wrappers are own properties over the prototype's methods: deleting them restores those.
  // One that something else has since put its own wrapper over stays, and passes calls on.
  METHODS.forEach((method, index) => {
    if (Reflect.get(response, method) === gate.wrappers[index]) {
      Reflect.deleteProperty(response, method)
    }
  })
}
