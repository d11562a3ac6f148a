import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { Secret } from '../../config/secret.js'
import { toKeyRing } from './pagination-key.js'

describe('pagination keys', () => {
  it('refuses a key that is 32 bytes or more but guessable, never showing it', () => {
    for (const key of ['k'.repeat(32), new Secret('changeme'.repeat(4)), Buffer.alloc(32, 7)]) {
      expect(() => toKeyRing(key)).toThrow(
        expect.objectContaining({
          code: 'E_PAGINATION_KEY',
          message: expect.stringContaining('guessable'),
        }),
      )
      expect(() => toKeyRing([randomBytes(32), key])).toThrow(/guessable: it has only \d distinct/)
    }
    expect(toKeyRing(randomBytes(32).toString('base64'))).toHaveLength(1)
  })
})
