import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { secretWeakness } from './secret-weakness.js'

describe('secretWeakness', () => {
  it('finds keys that are long enough but guessable', () => {
    expect(secretWeakness('k'.repeat(32))).toBe('it has only 1 distinct byte')
    expect(secretWeakness(Buffer.alloc(32))).toBe('it has only 1 distinct byte')
    expect(secretWeakness('changeme'.repeat(4))).toBe('it has only 7 distinct bytes')
    expect(secretWeakness('0123456789'.repeat(4))).toBe('it repeats its first 10 bytes')
    expect(secretWeakness(randomBytes(16).toString('hex').repeat(2))).toBe(
      'it repeats its first 32 bytes',
    )
  })

  it('passes random keys, raw or as base64url or hex text', () => {
    for (let i = 0; i < 200; i++) {
      expect(secretWeakness(randomBytes(32))).toBeUndefined()
      expect(secretWeakness(randomBytes(32).toString('base64url'))).toBeUndefined()
      expect(secretWeakness(randomBytes(16).toString('hex'))).toBeUndefined()
    }
  })
})
