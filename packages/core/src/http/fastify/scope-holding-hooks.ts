import type { FastifyInstance } from 'fastify'
import {
  currentRequestContext,
  type RequestContext,
  runInRequestContext,
} from '../../context/index.js'
import type { FastifyHttpExchange } from './fastify-http-exchange.js'

// Fastify's hooks that run for a request, each called with the request first and its `done`
// last. Those after the handler (preSerialization, onSend, onResponse after the response is
// sent, onError, onRequestAbort) run when nothing else of the request does.
export const REQUEST_HOOKS: ReadonlySet<string> = new Set([
  'onRequest',
  'preParsing',
  'preValidation',
  'preHandler',
  'preSerialization',
  'onSend',
  'onResponse',
  'onError',
  'onTimeout',
  'onRequestAbort',
])

// Hooks Fastify starts from an event of the connection (the request's close, a socket timeout),
// outside the request's own flow: they run in the request's context, as every other hook does.
const EVENT_HOOKS: ReadonlySet<string> = new Set(['onTimeout', 'onRequestAbort'])

type Hook = (this: unknown, ...args: unknown[]) => unknown
/** A request's Mortar context and its exchange, if Mortar opened one for it. */
type ContextOf = (
  request: unknown,
) => { readonly context: RequestContext; readonly exchange: FastifyHttpExchange } | undefined

/**
 * Counts every request hook that the app's own plugins add after Mortar's (on this instance, a
 * child made later, or a route) as work of the request, so that the request's scope outlives
 * each of them: an `onResponse` hook runs after the response is over, and an `onSend` hook may
 * run on after its client left, and either may use the scope (a transaction, an audit service).
 * Fastify has no event for a hook's end, so each hook is wrapped as it is added: held when
 * called, released when it calls `done`, settles or throws.
 */
export function holdScopeThroughHooks(fastify: FastifyInstance, contextOf: ContextOf): void {
  const addHook = fastify.addHook as (this: FastifyInstance, name: string, fn: unknown) => unknown
  // An own property over the instance's method: children made from this instance after now
  // inherit it, so the hooks of plugins registered later are counted too.
  Object.defineProperty(fastify, 'addHook', {
    configurable: true,
    writable: true,
    value: function addCountedHook(this: FastifyInstance, name: string, fn: unknown) {
      return addHook.call(this, name, counted(name, fn, contextOf))
    },
  })
  fastify.addHook('onRoute', (route) => {
    const options = route as unknown as Record<string, unknown>
    for (const name of REQUEST_HOOKS) {
      const hooks = options[name]
      if (Array.isArray(hooks)) options[name] = hooks.map((hook) => counted(name, hook, contextOf))
      else if (hooks !== undefined) options[name] = counted(name, hooks, contextOf)
    }
  })
}

function counted(name: string, fn: unknown, contextOf: ContextOf): unknown {
  // Anything else goes to Fastify as given, which refuses what it must.
  if (!REQUEST_HOOKS.has(name) || typeof fn !== 'function') return fn
  const hook = fn as Hook
  const inContext = EVENT_HOOKS.has(name)
  const wrapper = function countedHook(this: unknown, ...args: unknown[]): unknown {
    const opened = contextOf(args[0])
    if (opened === undefined) return Reflect.apply(hook, this, args)
    const { context, exchange } = opened
    exchange.hold()
    let held = true
    const release = () => {
      if (!held) return
      held = false
      exchange.release()
    }
    const last = args.length - 1
    const done = args[last]
    if (typeof done === 'function') {
      args[last] = function countedDone(this: unknown, ...doneArgs: unknown[]) {
        // Released after `done` has started the next hook, which holds in turn.
        try {
          return Reflect.apply(done, this, doneArgs)
        } finally {
          release()
        }
      }
    }
    let result: unknown
    try {
      result =
        inContext && currentRequestContext() !== context
          ? runInRequestContext(context, () => Reflect.apply(hook, this, args))
          : Reflect.apply(hook, this, args)
    } catch (error) {
      release()
      throw error
    }
    const thenable = result as PromiseLike<unknown> | null | undefined
    if (typeof thenable?.then === 'function') thenable.then(release, release)
    return result
  }
  // Fastify tells an async hook from one that calls `done` by these, when it is added.
  Object.defineProperty(wrapper, 'length', { value: hook.length })
  Object.defineProperty(wrapper, 'name', { value: hook.name })
  Object.defineProperty(wrapper, 'constructor', { value: hook.constructor })
  return wrapper
}
