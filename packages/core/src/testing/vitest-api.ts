import type { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * The vitest functions a conformance kit registers its tests with. Kits take them as their first
 * argument instead of importing vitest, so a testing entry loads (by `import` or `require()`)
 * without vitest, and the tests join the caller's own vitest run. Pass the module itself.
 *
 * @example
 * ```ts
 * import { throttleStoreConformance } from '@mortar/auth/testing'
 * import * as vitest from 'vitest'
 *
 * throttleStoreConformance(vitest, 'MyThrottleStore', () => ({ store: new MyThrottleStore() }))
 * ```
 */
export interface VitestApi {
  readonly describe: typeof describe
  readonly it: typeof it
  readonly expect: typeof expect
  readonly beforeAll: typeof beforeAll
  readonly afterAll: typeof afterAll
}
