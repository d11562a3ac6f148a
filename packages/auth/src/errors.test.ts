import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const source = readFileSync(new URL('./errors.ts', import.meta.url), 'utf8')
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

// HiddenResourceError keeps core's code on purpose: a hidden row must look like a missing one.
const INHERITED = new Set(['E_NOT_FOUND'])

describe('the error codes of @mortar/auth', () => {
  it('lists every code of src/errors.ts in a README table, and no other', () => {
    const defined = new Set([...source.matchAll(/'(E_[A-Z_]+)'/g)].map((match) => match[1]))
    const documented = new Set(
      [...readme.matchAll(/^\| `(E_[A-Z_]+)` \|/gm)].map((match) => match[1]),
    )
    expect([...defined].filter((code) => !documented.has(code))).toEqual([])
    expect(
      [...documented].filter((code) => !defined.has(code) && !INHERITED.has(code ?? '')),
    ).toEqual([])
  })
})
