import { readFileSync } from 'node:fs'
import { MortarError } from '../errors/mortar-error.js'
import type { VitestApi } from './vitest-api.js'

/** What {@link errorCodesConformance} checks: a package's errors, its README and its API. */
export interface ErrorCodesConformanceOptions {
  /** The package's `src/errors.ts`: the codes are the `'E_…'` strings of its source. */
  readonly errorsFile: URL
  /** The module `src/errors.ts` itself; each of its error classes must be in `api`. */
  readonly errors: Readonly<Record<string, unknown>>
  /** The package's public API, `src/index.ts`. */
  readonly api: Readonly<Record<string, unknown>>
  /** The README whose table lists every code, a row each starting `` | `E_…` | ``. */
  readonly readme: URL
  /** Codes the README lists that are core's, kept by a subclass on purpose. */
  readonly inherited?: readonly string[]
}

/**
 * Registers the tests that keep a package's error codes, README and exports in step: the README's
 * table lists every code of `src/errors.ts` and no other, and every error class is exported.
 *
 * @example
 * ```ts
 * import { errorCodesConformance } from '@mortar/core/testing'
 * import * as vitest from 'vitest'
 * import * as errors from './errors.js'
 * import * as api from './index.js'
 *
 * errorCodesConformance(vitest, '@acme/billing', {
 *   errorsFile: new URL('./errors.ts', import.meta.url),
 *   errors,
 *   api,
 *   readme: new URL('../README.md', import.meta.url),
 * })
 * ```
 */
export function errorCodesConformance(
  vitest: Pick<VitestApi, 'describe' | 'expect' | 'it'>,
  name: string,
  options: ErrorCodesConformanceOptions,
): void {
  const { describe, expect, it } = vitest
  describe(`${name} error codes`, () => {
    it('lists every code of src/errors.ts in the README table, and no other', () => {
      const source = readFileSync(options.errorsFile, 'utf8')
      const readme = readFileSync(options.readme, 'utf8')
      const inherited = new Set(options.inherited)
      const defined = new Set([...source.matchAll(/'(E_[A-Z_]+)'/g)].map((match) => match[1]))
      const listed = new Set(
        [...readme.matchAll(/^\| `(E_[A-Z_]+)` \|/gm)].map((match) => match[1] as string),
      )
      expect(defined.size).toBeGreaterThan(0)
      expect([...defined].filter((code) => !listed.has(code as string))).toEqual([])
      expect([...listed].filter((code) => !defined.has(code) && !inherited.has(code))).toEqual([])
    })

    it('exports every error class from the package', () => {
      for (const [className, value] of Object.entries(options.errors)) {
        if (typeof value === 'function' && value.prototype instanceof MortarError) {
          expect(options.api, `${className} is not exported from src/index.ts`).toHaveProperty(
            className,
            value,
          )
        }
      }
    })
  })
}
