/**
 * The one value of `key` in this process, created on first use. An app that loads both the ESM
 * and the CJS build of a package (an ESM app with a CommonJS plugin or test runner, say) runs
 * each module twice, so a plain module-level `new WeakMap()` or `new AsyncLocalStorage()` would
 * be two unrelated stores, one per build: a hook registered through one copy would never run in
 * the other, and a request context set by one would be invisible to the other. `globalThis` is
 * shared by both, so state that outlives a call lives here, under a `Symbol.for` key. Internal.
 */
export function processGlobal<T>(key: string, create: () => T): T {
  const slot = Symbol.for(key)
  const store = globalThis as unknown as Record<symbol, T | undefined>
  let value = store[slot]
  if (value === undefined) {
    value = create()
    store[slot] = value
  }
  return value
}
