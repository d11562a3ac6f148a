import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isLocalPath } from './page.js'

// What paths are made of, and what browsers resolve in them: dot segments, encoded ones,
// doubled and back slashes, a host.
const piece = fc.constantFrom(
  '/store',
  '/admin',
  '/',
  '//',
  '..',
  '.',
  '%2e',
  '%2E%2e',
  '%2f',
  '\\\\',
  'evil.example',
  'orders',
  '?next=',
  '&',
  '=',
  '\\t',
  '@',
)

describe('isLocalPath', () => {
  it('accepts only paths that a browser resolves under /store or /admin of the same origin', () => {
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 8 }).map((parts) => parts.join('')),
        (path) => {
          if (!isLocalPath(path)) return
          const resolved = new URL(path, 'https://shop.example')
          expect(resolved.origin).toBe('https://shop.example')
          expect(resolved.pathname).toMatch(/^\/(store|admin)(\/|$)/)
          expect(resolved.pathname).not.toContain('//')
        },
      ),
      { numRuns: 2_000 },
    )
  })

  it('refuses a path that leaves /store by its dot segments, and keeps the shop’s own pages', () => {
    for (const path of [
      '/store/../..//evil.example',
      '/store/%2e%2e//evil.example',
      '/admin/./x',
    ]) {
      expect(isLocalPath(path)).toBe(false)
    }
    for (const path of [
      '/store',
      '/store/checkout',
      '/store/orders?after=x&limit=5',
      '/admin/orders',
    ]) {
      expect(isLocalPath(path)).toBe(true)
    }
  })
})
