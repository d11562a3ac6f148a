import { processGlobal } from '../../global/index.js'
import type { ServerResponse } from 'node:http'
import {
  currentRequestContext,
  type RequestContext,
  runBeforeResponseHooks,
  runInRequestContext,
} from '../../context/index.js'
import type { AdapterApp } from './adapter-app.js'

// The calls through which a node:http response starts to leave: each sends the head first.
const METHODS = ['writeHead', 'write', 'end', 'flushHeaders'] as const
type Method = (typeof METHODS)[number]
type Call = readonly [Method, readonly unknown[]]

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
}

const gates = processGlobal('mortar.responseGates', () => new WeakMap<ServerResponse, Gate>())

// What a check returns when the calls it queued were not replayed at once.
const HELD = Symbol.for('mortar.responseGate.held')

/** What {@link gateResponse} needs: the app, the request's context, and how to send a problem. */
export interface ResponseGateOptions {
  readonly app: AdapterApp
  readonly context: RequestContext
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
  const { app, context, response, sendProblem } = options
  const gate: Gate = { state: 'closed', queue: [] }
  gates.set(response, gate)

  const pass = (): unknown => {
    if (gates.get(response) !== gate) return undefined
    release(response)
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
    release(response)
    for (const [, args] of gate.queue) settleCallback(args)
    gate.queue.length = 0
    for (const name of REFUSED_RESULT_HEADERS) response.removeHeader(name)
    sendProblem(error)
    // The handler may still write what it meant to send: swallow it, the problem is out.
    gate.state = 'failed'
    gates.set(response, gate)
    for (const method of METHODS) {
      Reflect.set(response, method, (...args: unknown[]) => {
        settleCallback(args)
        return method === 'write' ? true : response
      })
    }
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
    checked.then(pass, fail)
    return HELD
  }

  for (const method of METHODS) {
    Reflect.set(response, method, (...args: unknown[]) => {
      gate.queue.push([method, args])
      if (gate.state === 'closed') {
        const result =
          currentRequestContext() === context ? check() : runInRequestContext(context, check)
        // Replayed at once: return what the real call returned.
        if (result !== HELD) return result
      }
      return method === 'write' ? true : response
    })
  }
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
 * Removes the gate without running the hooks, for a response that is an error the adapter
 * renders itself (before-response hooks are for successful results), and drops what it held
 * back. Returns `false` when a hook already failed and its problem was sent: send nothing more.
 */
export function openResponseGate(response: ServerResponse): boolean {
  const gate = gates.get(response)
  if (gate === undefined) return true
  if (gate.state === 'failed') return false
  gate.queue.length = 0
  release(response)
  return true
}

// A dropped write or end still calls its callback, so a handler awaiting it does not hang.
function settleCallback(args: readonly unknown[]): void {
  const callback = args.at(-1)
  if (typeof callback === 'function') process.nextTick(callback as () => void)
}

function release(response: ServerResponse): void {
  gates.delete(response)
  // The wrappers are own properties over the prototype's methods: deleting them restores those.
  for (const method of METHODS) Reflect.deleteProperty(response, method)
}
