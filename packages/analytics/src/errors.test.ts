import { readFileSync } from 'node:fs'
import { MortarError } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import * as errors from './errors.js'
import * as api from './index.js'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
const source = readFileSync(new URL('./errors.ts', import.meta.url), 'utf8')
const codesInSource = [...new Set(source.match(/'E_[A-Z_]+'/g)?.map((code) => code.slice(1, -1)))]
const codesInTable = [...readme.matchAll(/^\| `(E_[A-Z_]+)` \|/gm)].map((match) => match[1])

describe('analytics error codes', () => {
  it('lists every code of src/errors.ts in the README table, and no other', () => {
    expect(codesInSource.length).toBeGreaterThan(0)
    expect([...codesInTable].sort()).toEqual([...codesInSource].sort())
  })

  it('exports every error class from the package', () => {
    for (const [name, value] of Object.entries(errors)) {
      if (typeof value === 'function' && value.prototype instanceof MortarError) {
        expect(api, `${name} is not exported from src/index.ts`).toHaveProperty(name, value)
      }
    }
  })
})
