import { describe, expect, it } from 'vitest'
import { memorySessionRegistry } from '../registry/memory/memory-session-registry.js'
import { checkMaxBytes } from './state-values.js'

// An object whose toString is not a function: String() of it throws.
const UNPRINTABLE = { toString: [] } as unknown as number

describe('a refused session option of any value', () => {
  it('gets the option’s own message, naming the value’s type', () => {
    expect(() => memorySessionRegistry({ pruneIdleAfter: UNPRINTABLE })).toThrow(/got object/)
    expect(() => checkMaxBytes(UNPRINTABLE)).toThrow(/got object/)
  })
})
