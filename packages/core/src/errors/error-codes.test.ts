import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as api from '../index.js'
import { MortarError } from './mortar-error.js'

const root = new URL('..', import.meta.url).pathname
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

// Library sources only: tests and the adapters' shared test cases throw codes of their own.
function librarySources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return librarySources(path)
    const isTest = /\.test(-d)?\.ts$/.test(entry.name) || entry.name === 'adapter-conformance.ts'
    return entry.name.endsWith('.ts') && !isTest ? [path] : []
  })
}

function codesIn(source: string): string[] {
  // Code, not comments: JSDoc examples show codes an app would define.
  const code = source
    .split('\n')
    .filter((line) => !/^\s*(\*|\/\/|\/\*)/.test(line))
    .join('\n')
  return [...code.matchAll(/'(E_[A-Z_]+)'/g)].map((match) => match[1] as string)
}

const codesInSource = [
  ...new Set(librarySources(root).flatMap((file) => codesIn(readFileSync(file, 'utf8')))),
]
const codesInTable = [...readme.matchAll(/^\| `(E_[A-Z_]+)` \|/gm)].map((match) => match[1])

describe('core error codes', () => {
  it('lists every code raised in src in the README table, and no other', () => {
    expect(codesInSource.length).toBeGreaterThan(10)
    expect([...codesInTable].sort()).toEqual([...codesInSource].sort())
  })

  it('exports every error class that carries a code from the package', () => {
    const exported = Object.values(api).filter(
      (value) => typeof value === 'function' && value.prototype instanceof MortarError,
    )
    for (const name of [
      'BadRequestError',
      'ConfigError',
      'ConflictError',
      'DatabaseError',
      'DatabaseInputError',
      'ForbiddenError',
      'JobError',
      'NoRequestContextError',
      'NotFoundError',
      'PayloadTooLargeError',
      'PermanentJobError',
      'ResolutionError',
      'RetryLaterJobError',
      'ShutdownError',
      'StartupError',
      'TooManyRequestsError',
      'UnauthorizedError',
      'UnsupportedMediaTypeError',
      'ValidationError',
      'VaultError',
    ]) {
      expect(api, `${name} is not exported from src/index.ts`).toHaveProperty(name)
      expect(exported).toContain((api as Record<string, unknown>)[name])
    }
  })
})
