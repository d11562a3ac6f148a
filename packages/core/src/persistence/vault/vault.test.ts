import { createHash, randomBytes } from 'node:crypto'
import { inspect } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Secret } from '../../config/secret.js'
import { Vault } from './vault.js'
import { VaultError, type VaultErrorCode } from './vault-error.js'

const K1 = randomBytes(32).toString('base64')
const K2 = randomBytes(32).toString('base64')
const AAD = { aad: 'payment_methods:42:token' }

function codeOf(run: () => unknown): VaultErrorCode | undefined {
  try {
    run()
  } catch (error) {
    if (error instanceof VaultError) return error.code
    throw error
  }
  return undefined
}

function messageOf(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    return String(error)
  }
  return ''
}

describe('Vault', () => {
  it('round-trips any text, including empty and non-ASCII', () => {
    const vault = new Vault({ keys: { k1: K1 } })
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string(), (plaintext, aad) => {
        const ciphertext = vault.encrypt(plaintext, { aad })
        expect(ciphertext).toMatch(/^[A-Za-z0-9_-]+$/)
        expect(vault.decrypt(ciphertext, { aad })).toBe(plaintext)
      }),
    )
  })

  it('gives back exactly what it took, or refuses text UTF-8 cannot carry (E_VAULT_INPUT)', () => {
    const vault = new Vault({ keys: { k1: K1 } })
    const purpose = { purpose: 'recipient-id' }
    // Any code point, and lone surrogates, which UTF-8 writes as U+FFFD.
    const text = fc.string({
      unit: fc.oneof(
        fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
    })
    fc.assert(
      fc.property(text, text, text, (plaintext, aad, other) => {
        const code = codeOf(() => {
          const ciphertext = vault.encrypt(plaintext, { aad })
          expect(vault.decrypt(ciphertext, { aad })).toBe(plaintext)
          if (other !== aad)
            expect(codeOf(() => vault.decrypt(ciphertext, { aad: other }))).toBeDefined()
        })
        expect(code === undefined || code === 'E_VAULT_INPUT').toBe(true)
        const digests = codeOf(() => {
          if (other !== plaintext) {
            expect(vault.digest(plaintext, purpose)).not.toBe(vault.digest(other, purpose))
          }
        })
        expect(digests === undefined || digests === 'E_VAULT_INPUT').toBe(true)
      }),
    )
    expect(codeOf(() => vault.encrypt('card \uD83D', AAD))).toBe('E_VAULT_INPUT')
    expect(codeOf(() => vault.digest('a\uDC00', purpose))).toBe('E_VAULT_INPUT')
  })

  it('digests a text the same way under one key and purpose, and apart under another of either', () => {
    const vault = new Vault({ keys: { k1: K1 } })
    const purpose = { purpose: 'recipient-id' }
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const digest = vault.digest(a, purpose)
        expect(digest).toMatch(/^[A-Za-z0-9_-]{43}$/)
        expect(vault.digest(a, purpose)).toBe(digest)
        expect(new Vault({ keys: { k1: K1 } }).digest(a, purpose)).toBe(digest)
        if (a !== b) expect(vault.digest(b, purpose)).not.toBe(digest)
        expect(vault.digest(a, { purpose: 'other' })).not.toBe(digest)
        expect(new Vault({ keys: { k2: K2 } }).digest(a, purpose)).not.toBe(digest)
      }),
    )
    // Keyed: not the plain hash a dictionary of addresses reverses.
    const plain = createHash('sha256').update('ada@example.com').digest('base64url')
    expect(vault.digest('ada@example.com', purpose)).not.toBe(plain)
  })

  it('encrypts the same value differently each time (fresh IV)', () => {
    const vault = new Vault({ keys: { k1: K1 } })
    expect(vault.encrypt('4242', AAD)).not.toBe(vault.encrypt('4242', AAD))
  })

  it('names its key in the ciphertext and encrypts with the last key unless one is primary', () => {
    expect(
      new Vault({ keys: { k1: K1, k2: K2 } }).keyIdOf(
        new Vault({ keys: { k1: K1, k2: K2 } }).encrypt('x', AAD),
      ),
    ).toBe('k2')
    const vault = new Vault({ keys: { k1: K1, k2: K2 }, primary: 'k1' })
    expect(vault.primaryKeyId).toBe('k1')
    expect(vault.keyIdOf(vault.encrypt('x', AAD))).toBe('k1')
  })

  it('fails to decrypt with another aad, so a value cannot move to another row', () => {
    const vault = new Vault({ keys: { k1: K1 } })
    const ciphertext = vault.encrypt('tok_visa', AAD)
    expect(codeOf(() => vault.decrypt(ciphertext, { aad: 'payment_methods:43:token' }))).toBe(
      'E_VAULT_DECRYPT',
    )
    expect(codeOf(() => vault.decrypt(ciphertext, { aad: '' }))).toBe('E_VAULT_DECRYPT')
  })

  it('fails with the wrong key under the same id', () => {
    const ciphertext = new Vault({ keys: { k1: K1 } }).encrypt('secret', AAD)
    expect(codeOf(() => new Vault({ keys: { k1: K2 } }).decrypt(ciphertext, AAD))).toBe(
      'E_VAULT_DECRYPT',
    )
  })

  it('reports an unknown key id by name', () => {
    const ciphertext = new Vault({ keys: { retired: K1 } }).encrypt('secret', AAD)
    const vault = new Vault({ keys: { k2: K2 } })
    expect(codeOf(() => vault.decrypt(ciphertext, AAD))).toBe('E_VAULT_UNKNOWN_KEY')
    expect(messageOf(() => vault.decrypt(ciphertext, AAD))).toContain("'retired'")
  })

  it('fails on any single-byte change of a ciphertext', () => {
    const vault = new Vault({ keys: { k1: K1, k2: K2 } })
    const ciphertext = vault.encrypt('tok_visa_4242', AAD)
    const bytes = Buffer.from(ciphertext, 'base64url')
    fc.assert(
      fc.property(
        fc.nat({ max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (index, mask) => {
          const tampered = Buffer.from(bytes)
          tampered[index] = (tampered[index] ?? 0) ^ mask
          const code = codeOf(() => vault.decrypt(tampered.toString('base64url'), AAD))
          expect(['E_VAULT_DECRYPT', 'E_VAULT_MALFORMED', 'E_VAULT_UNKNOWN_KEY']).toContain(code)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('rejects truncated values and values that are not ciphertexts', () => {
    const vault = new Vault({ keys: { k1: K1 } })
    const ciphertext = vault.encrypt('tok', AAD)
    expect(codeOf(() => vault.decrypt(ciphertext.slice(0, 20), AAD))).toBe('E_VAULT_MALFORMED')
    expect(codeOf(() => vault.decrypt('tok_visa_4242 in plain text', AAD))).toBe(
      'E_VAULT_MALFORMED',
    )
    expect(codeOf(() => vault.decrypt('', AAD))).toBe('E_VAULT_MALFORMED')
    expect(codeOf(() => vault.decrypt(ciphertext.slice(0, -2), AAD))).toBe('E_VAULT_DECRYPT')
  })

  describe('rotation', () => {
    it('still decrypts old values after a new primary key is added', () => {
      const before = new Vault({ keys: { k1: K1 } })
      const old = before.encrypt('tok_visa', AAD)
      const after = new Vault({ keys: { k1: K1, k2: K2 } })
      expect(after.decrypt(old, AAD)).toBe('tok_visa')
      expect(after.needsReencryption(old)).toBe(true)
      const moved = after.reencrypt(old, AAD)
      expect(after.keyIdOf(moved)).toBe('k2')
      expect(after.needsReencryption(moved)).toBe(false)
      expect(new Vault({ keys: { k2: K2 } }).decrypt(moved, AAD)).toBe('tok_visa')
    })
  })

  describe('key ring checks', () => {
    it('refuses an empty ring', () => {
      expect(codeOf(() => new Vault({ keys: {} }))).toBe('E_VAULT_KEY_RING')
      expect(codeOf(() => new Vault({ keys: [] }))).toBe('E_VAULT_KEY_RING')
    })

    it('refuses a guessable key of the right length (zero-filled, one byte repeated)', () => {
      for (const weak of [
        Buffer.alloc(32),
        Buffer.alloc(32, 'k'),
        Buffer.from('0123456789abcdef'.repeat(2)),
      ]) {
        const key = weak.toString('base64')
        const message = messageOf(() => new Vault({ keys: { k1: K1, weak_one: key } }))
        expect(message).toMatch(/Vault key 'weak_one' is guessable/)
        expect(message).not.toContain(key)
      }
    })

    it('refuses a key of the wrong length, naming the key id and never the key', () => {
      const short = randomBytes(16).toString('base64')
      const message = messageOf(() => new Vault({ keys: { k1: K1, short_one: short } }))
      expect(message).toContain("'short_one'")
      expect(message).toContain('16 bytes')
      expect(message).not.toContain(short)
      expect(message).not.toContain(K1)
    })

    it('refuses a key that is not base64, naming the key id and never the key', () => {
      const message = messageOf(() => new Vault({ keys: { k9: 'not base64 at all!' } }))
      expect(message).toContain("'k9'")
      expect(message).not.toContain('not base64 at all!')
    })

    it('refuses duplicate key ids and an unknown primary', () => {
      const duplicate = () =>
        new Vault({
          keys: [
            { id: 'k1', key: K1 },
            { id: 'k1', key: K2 },
          ],
        })
      expect(codeOf(duplicate)).toBe('E_VAULT_KEY_RING')
      expect(messageOf(duplicate)).toContain("'k1' appears twice")
      expect(codeOf(() => new Vault({ keys: { k1: K1 }, primary: 'k2' }))).toBe('E_VAULT_KEY_RING')
    })

    it('refuses key ids that cannot be written in a ciphertext header', () => {
      expect(codeOf(() => new Vault({ keys: { 'has space': K1 } }))).toBe('E_VAULT_KEY_RING')
      expect(codeOf(() => new Vault({ keys: { ['x'.repeat(65)]: K1 } }))).toBe('E_VAULT_KEY_RING')
    })

    it('accepts keys as config secrets, per key or as a whole record, and base64url', () => {
      const perKey = new Vault({ keys: { k1: new Secret(K1) } })
      const whole = new Vault({ keys: new Secret({ k1: K1 }) })
      const url = new Vault({ keys: { k1: Buffer.from(K1, 'base64').toString('base64url') } })
      expect(whole.decrypt(perKey.encrypt('x', AAD), AAD)).toBe('x')
      expect(url.decrypt(perKey.encrypt('y', AAD), AAD)).toBe('y')
    })
  })

  it('shows only key ids when printed, inspected or serialised', () => {
    const vault = new Vault({ keys: { k1: K1, k2: K2 } })
    for (const shown of [
      String(vault),
      inspect(vault),
      JSON.stringify(vault),
      inspect({ vault }, { depth: 5 }),
    ]) {
      expect(shown).toContain('k1')
      expect(shown).not.toContain(K1)
      expect(shown).not.toContain(K2)
      expect(shown).not.toContain(Buffer.from(K1, 'base64').toString('hex'))
    }
  })

  it('generates keys the ring accepts', () => {
    const vault = new Vault({ keys: { fresh: Vault.generateKey() } })
    expect(vault.decrypt(vault.encrypt('ok', AAD), AAD)).toBe('ok')
  })
})
