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
const hooksByApp = new WeakMap<object, RequestHook[]>()

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
  const hooks = hooksByApp.get(app) ?? []
  hooks.push(hook)
  hooksByApp.set(app, hooks)
  return () => {
    const index = hooks.indexOf(hook)
    if (index !== -1) hooks.splice(index, 1)
  }
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
