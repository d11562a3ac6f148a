import * as crypto from 'node:crypto'
import { type Logger, toProblem } from '@mortar/core'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  InvalidPasswordError,
  InvalidPasswordHashError,
  PasswordHasherBusyError,
  PasswordHasherConfigError,
} from '../errors.js'
import { OWASP_SCRYPT_COST, PasswordHasher } from './password-hasher.js'

// Spy on scrypt to see which parameters each call derives with: the unknown-account path must
// do the same work as a real verification, which a test can check without measuring time.
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>()
  return { ...actual, scrypt: vi.fn(actual.scrypt) }
})

const scryptSpy = vi.mocked(crypto.scrypt)

// Cheap parameters keep the suite fast; the default (OWASP) cost is exercised once below.
const fast = () => new PasswordHasher({ cost: { logN: 10 } })

afterEach(() => {
  scryptSpy.mockClear()
})

function derivations(): Array<{ keyLength: unknown; options: unknown }> {
  return scryptSpy.mock.calls.map((call) => ({ keyLength: call[2], options: call[3] }))
}

describe('PasswordHasher', () => {
  it('hashes to a PHC string with OWASP parameters by default and verifies it', async () => {
    const hasher = new PasswordHasher()
    const stored = await hasher.hash('correct horse battery staple')
    expect(stored).toMatch(/^\$scrypt\$ln=17,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    expect(OWASP_SCRYPT_COST).toEqual({ logN: 17, r: 8, p: 1 })
    expect(await hasher.verify(stored, 'correct horse battery staple')).toBe(true)
    expect(derivations()[0]).toMatchObject({ keyLength: 32, options: { N: 131072, r: 8, p: 1 } })
  })

  it('refuses a wrong password and salts every hash differently', async () => {
    const hasher = fast()
    const first = await hasher.hash('hunter22')
    const second = await hasher.hash('hunter22')
    expect(first).not.toBe(second)
    expect(await hasher.verify(first, 'hunter23')).toBe(false)
    expect(await hasher.verify(first, 'Hunter22')).toBe(false)
    expect(await hasher.verify(second, 'hunter22')).toBe(true)
  })

  it('verifies with the parameters recorded in the string, not its own', async () => {
    const old = await new PasswordHasher({ cost: { logN: 8, r: 4 } }).hash('s3cret-pass')
    expect(old).toContain('$ln=8,r=4,p=1$')
    expect(await fast().verify(old, 's3cret-pass')).toBe(true)
  })

  it('matches the same password typed in another Unicode normal form', async () => {
    const hasher = fast()
    const stored = await hasher.hash('caf\u00e9-au-lait')
    expect(await hasher.verify(stored, 'cafe\u0301-au-lait')).toBe(true)
  })

  it('refuses a password with a lone surrogate, which UTF-8 would turn into U+FFFD', async () => {
    const hasher = fast()
    const stored = await hasher.hash('pass\ufffdword')
    const lone = fc
      .tuple(fc.string(), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string())
      .map(([before, unit, after]) => `${before}${String.fromCharCode(unit)}${after}`)
      .filter((password) => /\p{Cs}/u.test(password))
    await fc.assert(
      fc.asyncProperty(lone, async (password) => {
        await expect(hasher.hash(password)).rejects.toThrow(InvalidPasswordError)
        await expect(hasher.verifyOrDummy(undefined, password)).rejects.toThrow(
          InvalidPasswordError,
        )
      }),
      { numRuns: 30 },
    )
    // 'pass\ud800word' verified against the hash of 'pass\ufffdword'.
    for (const unit of ['\ud800', '\udbff', '\udc00', '\udfff']) {
      await expect(hasher.verify(stored, `pass${unit}word`)).rejects.toThrow(InvalidPasswordError)
      await expect(hasher.verifyOrDummy(stored, `pass${unit}word`)).rejects.toThrow(
        InvalidPasswordError,
      )
    }
    expect(await hasher.verify(stored, 'pass\ufffdword')).toBe(true)
    // The password is checked before the hash is read: a 400, not InvalidPasswordHashError's 500.
    for (const unreadable of ['$2b$10$notscrypt', '$scrypt$ln=10']) {
      await expect(hasher.verify(unreadable, 'a\ud800')).rejects.toThrow(InvalidPasswordError)
      await expect(hasher.verifyOrDummy(unreadable, 'a\ud800')).rejects.toThrow(
        InvalidPasswordError,
      )
    }
    await expect(hasher.hash(42 as unknown as string)).rejects.toThrow(InvalidPasswordError)
  })

  it('reports a hash made with a lower cost, key or salt as needing a rehash', async () => {
    const current = new PasswordHasher({ cost: { logN: 10 } })
    expect(current.needsRehash(await current.hash('pw-123456'))).toBe(false)
    expect(current.needsRehash(await new PasswordHasher({ cost: { logN: 9 } }).hash('x'))).toBe(
      true,
    )
    expect(
      current.needsRehash(await new PasswordHasher({ cost: { logN: 10, r: 4 } }).hash('x')),
    ).toBe(true)
    expect(current.needsRehash(await new PasswordHasher({ cost: { logN: 11 } }).hash('x'))).toBe(
      false,
    )
    const stronger = new PasswordHasher({ cost: { logN: 10, p: 2 } })
    expect(stronger.needsRehash(await current.hash('x'))).toBe(true)
    const longerKey = new PasswordHasher({ cost: { logN: 10 }, keyLength: 64 })
    expect(longerKey.needsRehash(await current.hash('x'))).toBe(true)
  })

  it('rehashes: an old hash verifies, is flagged, and its replacement is not', async () => {
    const legacy = await new PasswordHasher({ cost: { logN: 9 } }).hash('rehash-me')
    const hasher = fast()
    expect(await hasher.verify(legacy, 'rehash-me')).toBe(true)
    expect(hasher.needsRehash(legacy)).toBe(true)
    const upgraded = await hasher.hash('rehash-me')
    expect(hasher.needsRehash(upgraded)).toBe(false)
    expect(await hasher.verify(upgraded, 'rehash-me')).toBe(true)
  })

  it('spends a full derivation with the current cost on an unknown account and answers false', async () => {
    const hasher = new PasswordHasher({ cost: { logN: 11, r: 8, p: 1 } })
    const known = await hasher.hash('known-user-pw')
    scryptSpy.mockClear()
    expect(await hasher.verifyOrDummy(known, 'known-user-pw')).toBe(true)
    expect(await hasher.verifyOrDummy(undefined, 'known-user-pw')).toBe(false)
    expect(await hasher.verifyOrDummy(null, 'anything')).toBe(false)
    // An account without a password kept as '' (a column that is NOT NULL): it threw, a 500
    // where an unknown email got a 401, telling which emails have such an account.
    expect(await hasher.verifyOrDummy('', 'anything')).toBe(false)
    expect(await hasher.dummyVerify('anything')).toBe(false)
    const [real, ...dummies] = derivations()
    expect(dummies).toHaveLength(4)
    for (const dummy of dummies) expect(dummy).toEqual(real)
    expect(real).toMatchObject({ keyLength: 32, options: { N: 2048, r: 8, p: 1 } })
  })

  it('throws InvalidPasswordHashError for strings that are not scrypt PHC hashes', async () => {
    const hasher = fast()
    const valid = await hasher.hash('x')
    const bad = [
      '',
      'plaintext',
      '$2b$10$abcdefghijklmnopqrstuv',
      '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g',
      valid.replace('ln=10', 'ln=30'),
      valid.replace('r=8', 'r=500'),
      valid.replace(/\$[^$]+$/, '$AAAA'),
      valid.replace(/\$[^$]+$/, '$not*base64'),
      `${valid}$extra`,
    ]
    for (const stored of bad) {
      await expect(hasher.verify(stored, 'x'), stored).rejects.toBeInstanceOf(
        InvalidPasswordHashError,
      )
      expect(() => hasher.needsRehash(stored)).toThrow(InvalidPasswordHashError)
    }
    const error = await hasher.verify('$scrypt$ln=10,r=8,p=1$c2VjcmV0$x', 'x').catch((e) => e)
    expect(error).toMatchObject({ code: 'E_AUTH_PASSWORD_HASH_INVALID', status: 500 })
    expect(error.message).not.toContain('c2VjcmV0')
  })

  it('answers false for a stored hash it cannot read in a login, spending a full derivation, and logs why', async () => {
    // It threw InvalidPasswordHashError from verifyOrDummy: a 500 at once for exactly the
    // accounts with such a hash (a bcrypt import, a truncated column), where others got a 401.
    const warnings: unknown[][] = []
    const logger = { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger
    const hasher = new PasswordHasher({ cost: { logN: 11 }, logger })
    const valid = await hasher.hash('x')
    scryptSpy.mockClear()
    const bad = [
      'plaintext',
      '$2b$10$abcdefghijklmnopqrstuuQ0ZxWbq8c1yLw2b9y8e3t2j7u1m5n6o',
      valid.replace('ln=11', 'ln=30'),
      valid.slice(0, -30),
    ]
    for (const stored of bad) expect(await hasher.verifyOrDummy(stored, 'x')).toBe(false)
    await hasher.dummyVerify('x')
    const [reference, ...spent] = derivations().reverse()
    expect(spent).toHaveLength(bad.length)
    for (const derivation of spent) expect(derivation).toEqual(reference)
    expect(warnings).toHaveLength(bad.length)
    for (const [fields, message] of warnings) {
      expect(fields).toMatchObject({ code: 'E_AUTH_PASSWORD_HASH_INVALID' })
      expect(message).toMatch(/PasswordHasher\.hash/)
    }
    const logged = JSON.stringify(warnings)
    for (const stored of bad) expect(logged).not.toContain(stored.split('$').at(-1))
  })

  it('refuses settings outside scrypt’s safe range at construction', () => {
    expect(() => new PasswordHasher({ cost: { logN: 0 } })).toThrow(PasswordHasherConfigError)
    expect(() => new PasswordHasher({ cost: { logN: 25 } })).toThrow(PasswordHasherConfigError)
    expect(() => new PasswordHasher({ cost: { logN: 20, r: 64 } })).toThrow(/1 GiB/)
    expect(() => new PasswordHasher({ keyLength: 8 })).toThrow(PasswordHasherConfigError)
    expect(() => new PasswordHasher({ saltLength: 4 })).toThrow(PasswordHasherConfigError)
  })

  it('derives at most `concurrency` hashes at once, queues `queueLimit` and refuses the rest with a 503', async () => {
    // Without a cap every call went to scrypt at once: a burst of logins took every libuv
    // thread, and every file read and DNS lookup of the process waited behind it.
    const hasher = new PasswordHasher({ cost: { logN: 10 }, concurrency: 2, queueLimit: 3 })
    const stored = await hasher.hash('correct horse battery staple')
    scryptSpy.mockClear()
    for (let round = 0; round < 2; round += 1) {
      const burst = [
        hasher.hash('a password'),
        hasher.verify(stored, 'correct horse battery staple'),
        hasher.verifyOrDummy(undefined, 'an unknown account'),
        hasher.dummyVerify('another'),
        hasher.hash('queued'),
        hasher.hash('refused'),
      ]
      // Each call reaches scrypt synchronously when a slot is free: two did, four wait or not.
      expect(scryptSpy.mock.calls.length).toBe(2)
      const settled = await Promise.allSettled(burst)
      expect(settled.map((outcome) => outcome.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'rejected',
      ])
      const refused = (settled[5] as PromiseRejectedResult).reason
      expect(refused).toBeInstanceOf(PasswordHasherBusyError)
      expect(toProblem(refused)).toMatchObject({
        status: 503,
        headers: { 'retry-after': '1' },
        body: { code: 'E_AUTH_PASSWORD_BUSY' },
      })
      // The refused one never hashed; every slot came back for the next round.
      expect(scryptSpy.mock.calls.length).toBe(5)
      scryptSpy.mockClear()
    }
  })

  it('refuses a concurrency or queueLimit it cannot use', () => {
    for (const options of [{ concurrency: 0 }, { concurrency: 1.5 }, { queueLimit: -1 }]) {
      expect(() => new PasswordHasher(options)).toThrow(PasswordHasherConfigError)
    }
  })
})
