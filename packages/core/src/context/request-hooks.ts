import { StartupError } from '../app/startup-error.js'
import { processGlobal } from '../global/index.js'
import type { RequestContext } from './request-context.js'

/**
 * Work a module does at the start of every request, inside its context and before any handler
 * runs: loading the session and filling the `principal` slot, say. A hook that throws fails the
 * request, and the adapter renders the error as problem+json.
 *
 * @example
 * ```ts
 * import type { RequestHook } from '@mortar/core'
 *
 * const stampLocale: RequestHook = (context) => {
 *   if (context.locale === undefined) context.http?.appendResponseHeader('vary', 'accept-language')
 * }
 * ```
 */
export type RequestHook = (context: RequestContext) => void | Promise<void>

// Keyed by the app object itself: adapters receive the app, modules get it in onStart, and an
// app needs no new method for it. A WeakMap lets a stopped app and its hooks be collected.
// Process-wide, so a hook a module adds through one build of core runs in an adapter of the other.
const hooksByApp = processGlobal('mortar.requestHooks', () => new WeakMap<object, RequestHook[]>())
const beforeResponseHooksByApp = processGlobal(
  'mortar.beforeResponseHooks',
  () => new WeakMap<object, RequestHook[]>(),
)
// Apps an adapter was registered for while they had no before-response hooks, by adapter name:
// that adapter listens for none, so a hook added later would never run and is refused instead.
const adaptersWithoutBeforeResponse = processGlobal(
  'mortar.adaptersWithoutBeforeResponse',
  () => new WeakMap<object, string>(),
)

function addHook(
  registry: WeakMap<object, RequestHook[]>,
  app: object,
  hook: RequestHook,
): () => void {
  const hooks = registry.get(app) ?? []
  hooks.push(hook)
  registry.set(app, hooks)
  return () => {
    const index = hooks.indexOf(hook)
    if (index !== -1) hooks.splice(index, 1)
  }
}

/**
 * Adds a hook that every HTTP adapter awaits after opening a request's context and before the
 * handler, in the order hooks were added. Call it from a module's `onStart`. Returns a function
 * that removes the hook.
 *
 * @example
 * ```ts
 * import { defineModule, onRequestStart } from '@mortar/core'
 *
 * export const tenantModule = defineModule({
 *   name: 'tenant',
 *   register() {},
 *   onStart(app) {
 *     onRequestStart(app, (context) => {
 *       context.set('principal', {})
 *     })
 *   },
 * })
 * ```
 */
export function onRequestStart(app: object, hook: RequestHook): () => void {
  return addHook(hooksByApp, app, hook)
}

/**
 * Runs the hooks added with {@link onRequestStart} for `app`, in order. For HTTP adapters: call
 * it inside the request's context. Returns `undefined` when the app has no hooks, so the common
 * case stays synchronous.
 *
 * @example
 * ```ts
 * import { runRequestStartHooks } from '@mortar/core'
 *
 * const started = runRequestStartHooks(app, context)
 * if (started) await started
 * ```
 */
export function runRequestStartHooks(
  app: object,
  context: RequestContext,
): Promise<void> | undefined {
  const hooks = hooksByApp.get(app)
  if (hooks === undefined || hooks.length === 0) return undefined
  return runAll([...hooks], context)
}

async function runAll(hooks: readonly RequestHook[], context: RequestContext): Promise<void> {
  for (const hook of hooks) await hook(context)
}

/**
 * Adds a hook that every HTTP adapter runs inside a request's context after the handler produced
 * a successful result and before anything of the response is sent, in the order hooks were added.
 * A hook that throws replaces the response with the error's problem+json, so it can stop a
 * response that should not leave: `@mortar/auth` fails a request that read a protected table
 * without authorizing. Errors a handler threw do not run these hooks. Call it from a module's
 * `onStart`. Returns a function that removes the hook.
 *
 * @example
 * ```ts
 * import { defineModule, MortarError, onBeforeResponse } from '@mortar/core'
 *
 * export const auditModule = defineModule({
 *   name: 'audit',
 *   register() {},
 *   onStart(app) {
 *     onBeforeResponse(app, (context) => {
 *       if (context.get('principal') === undefined && context.http?.method !== 'GET') {
 *         throw new MortarError('E_ANONYMOUS_WRITE', 500, 'Writes need a principal: log in first.')
 *       }
 *     })
 *   },
 * })
 * ```
 */
export function onBeforeResponse(app: object, hook: RequestHook): () => void {
  const adapter = adaptersWithoutBeforeResponse.get(app)
  if (adapter !== undefined) {
    throw new StartupError([
      `A before-response hook was added after ${adapter} was registered for an app that had none, so it would never run: start the app (its modules add these hooks in onStart) before registering ${adapter}.`,
    ])
  }
  return addHook(beforeResponseHooksByApp, app, hook)
}

/**
 * For adapters that skip the before-response step when an app has no hooks, so that its requests
 * pay nothing for it: call once, when the adapter is registered. Returns whether the app has
 * before-response hooks; when it has none, adding one later throws a {@link StartupError} that
 * names `adapter`, instead of the hook silently never running.
 *
 * @example
 * ```ts
 * import { claimBeforeResponseHooks } from '@mortar/core'
 *
 * if (claimBeforeResponseHooks(app, 'myAdapter')) framework.onBeforeSend(checkResponse)
 * ```
 */
export function claimBeforeResponseHooks(app: object, adapter: string): boolean {
  if (hasBeforeResponseHooks(app)) return true
  adaptersWithoutBeforeResponse.set(app, adapter)
  return false
}

/**
 * Whether `app` has hooks added with {@link onBeforeResponse}: one WeakMap lookup, so that an
 * adapter pays for the hooks only in apps that have some.
 *
 * @example
 * ```ts
 * import { hasBeforeResponseHooks } from '@mortar/core'
 *
 * if (hasBeforeResponseHooks(app)) guardResponse(response)
 * ```
 */
export function hasBeforeResponseHooks(app: object): boolean {
  const hooks = beforeResponseHooksByApp.get(app)
  return hooks !== undefined && hooks.length > 0
}

/**
 * Runs the hooks added with {@link onBeforeResponse} for `app`, in order. For HTTP adapters:
 * call it inside the request's context, once the handler succeeded and before sending. Hooks
 * that finish synchronously keep it synchronous: it returns `undefined` (always so for an app
 * without hooks) or throws the error of the hook that threw; once a hook returns a promise, it
 * returns a promise of the rest.
 *
 * @example
 * ```ts
 * import { runBeforeResponseHooks } from '@mortar/core'
 *
 * try {
 *   const checked = runBeforeResponseHooks(app, context)
 *   if (checked) await checked
 * } catch (error) {
 *   return renderProblem(error)
 * }
 * ```
 */
export function runBeforeResponseHooks(
  app: object,
  context: RequestContext,
): Promise<void> | undefined {
  const hooks = beforeResponseHooksByApp.get(app)
  if (hooks === undefined || hooks.length === 0) return undefined
  // A copy, so a hook removed while the hooks run does not shift the ones after it.
  const pending = [...hooks]
  for (let index = 0; index < pending.length; index += 1) {
    const result = (pending[index] as RequestHook)(context)
    if (result !== undefined && typeof result.then === 'function') {
      return result.then(() => runAll(pending.slice(index + 1), context))
    }
  }
  return undefined
}
