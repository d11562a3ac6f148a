import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { globalToken } from '../../di/token.js'
import {
  envelopeHeader,
  formatEnvelope,
  IV_BYTES,
  parseEnvelope,
  TAG_BYTES,
} from './vault-ciphertext.js'
import { hasLoneSurrogate } from '../../validation/safe-text.js'
import { VaultError } from './vault-error.js'
import { type KeyRing, parseKeyRing, type VaultKeys } from './vault-key-ring.js'

/** Options of a {@link Vault}. */
export interface VaultOptions {
  /** The key ring: key id → 32-byte key in base64. Checked when the Vault is built. */
  readonly keys: VaultKeys
  /** The id of the key that encrypts; defaults to the last key of the ring. */
  readonly primary?: string
}

/** What binds a value to its place, such as `'payment_methods:42:token'`. */
export interface VaultContext {
  /**
   * Associated data: authenticated, not stored. A value decrypts only with the same `aad`, so a
   * ciphertext copied to another row or column fails instead of leaking there.
   */
  readonly aad: string
}

const ALGORITHM = 'aes-256-gcm'

/**
 * Encrypts fields at rest with AES-256-GCM and a key ring. It encrypts with the primary key and
 * decrypts with any key of the ring, so keys rotate without downtime: add a new primary, deploy,
 * then move old values with {@link reencryptColumn}. Each ciphertext is a self-describing
 * base64url string (format version, key id, IV, tag, data), bound to its row by `aad`.
 * It prints as its key ids only, never key material.
 *
 * @example
 * ```ts
 * import { Vault } from '@mortar/core'
 *
 * const vault = new Vault({ keys: { k2025: process.env.VAULT_KEY_2025 ?? '' } })
 * const token = vault.encrypt('tok_visa_4242', { aad: 'payment_methods:42:token' })
 * vault.decrypt(token, { aad: 'payment_methods:42:token' }) // 'tok_visa_4242'
 * ```
 */
export class Vault {
  readonly #ring: KeyRing
  /** The digest keys derived from the primary key, by purpose. */
  readonly #digestKeys = new Map<string, Buffer>()

  constructor(options: VaultOptions) {
    this.#ring = parseKeyRing(options.keys, options.primary)
  }

  /** A fresh random key, base64, ready for the key ring (print it once, store it as a secret). */
  static generateKey(): string {
    return randomBytes(32).toString('base64')
  }

  /** The id of the key new values are encrypted with. */
  get primaryKeyId(): string {
    return this.#ring.primary
  }

  /** The ids of every key in the ring, in the order given. */
  get keyIds(): readonly string[] {
    return [...this.#ring.keys.keys()]
  }

  /** Encrypts `plaintext` with the primary key, bound to `aad`. */
  encrypt(plaintext: string, context: VaultContext): string {
    const keyId = this.#ring.primary
    const header = envelopeHeader(keyId)
    wellFormed(plaintext, 'plaintext')
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv(ALGORITHM, this.#key(keyId), iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(associatedData(header, context))
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return formatEnvelope(header, iv, cipher.getAuthTag(), data)
  }

  /**
   * Decrypts a value made by {@link Vault.encrypt} with the key it names. Throws a
   * {@link VaultError}: `E_VAULT_MALFORMED`, `E_VAULT_UNKNOWN_KEY`, or `E_VAULT_DECRYPT` when the
   * value was altered or `aad` differs.
   */
  decrypt(ciphertext: string, context: VaultContext): string {
    const envelope = parseEnvelope(ciphertext)
    const decipher = createDecipheriv(ALGORITHM, this.#key(envelope.keyId), envelope.iv, {
      authTagLength: TAG_BYTES,
    })
    decipher.setAAD(associatedData(envelope.header, context))
    decipher.setAuthTag(envelope.tag)
    try {
      return Buffer.concat([decipher.update(envelope.data), decipher.final()]).toString('utf8')
    } catch (error) {
      throw new VaultError(
        'E_VAULT_DECRYPT',
        `A value encrypted with vault key '${envelope.keyId}' failed authentication: it was altered, ` +
          'or it belongs to another row or column (its aad differs).',
        { keyId: envelope.keyId, cause: error },
      )
    }
  }

  /**
   * A keyed digest of `text` (HMAC-SHA-256, base64url) under a key derived from the primary key
   * for `purpose`: the same text and purpose give the same digest, so it can stand for a value
   * where only equality matters (a lookup key, an id) without revealing it, which a plain hash
   * does not do for guessable values (a dictionary of mail addresses reverses it). A new
   * primary key gives new digests.
   *
   * @example
   * ```ts
   * const id = vault.digest('ada@example.com', { purpose: 'recipient-id' })
   * ```
   */
  digest(text: string, context: { readonly purpose: string }): string {
    wellFormed(text, 'digest text')
    wellFormed(context.purpose, 'digest purpose')
    let key = this.#digestKeys.get(context.purpose)
    if (key === undefined) {
      const primary = this.#key(this.#ring.primary)
      const info = `mortar.vault.digest:${context.purpose}`
      key = Buffer.from(hkdfSync('sha256', primary, Buffer.alloc(0), info, 32))
      this.#digestKeys.set(context.purpose, key)
    }
    return createHmac('sha256', key).update(text, 'utf8').digest('base64url')
  }

  /** The id of the key a ciphertext was encrypted with, read from its header. */
  keyIdOf(ciphertext: string): string {
    return parseEnvelope(ciphertext).keyId
  }

  /** True when a ciphertext was encrypted with a key other than the primary. */
  needsReencryption(ciphertext: string): boolean {
    return this.keyIdOf(ciphertext) !== this.#ring.primary
  }

  /** Decrypts with the key it names and encrypts again with the primary key, same `aad`. */
  reencrypt(ciphertext: string, context: VaultContext): string {
    return this.encrypt(this.decrypt(ciphertext, context), context)
  }

  toString(): string {
    return `Vault { keys: [${this.keyIds.join(', ')}], primary: ${this.#ring.primary} }`
  }

  toJSON(): { keys: readonly string[]; primary: string } {
    return { keys: this.keyIds, primary: this.#ring.primary }
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString()
  }

  #key(keyId: string) {
    const key = this.#ring.keys.get(keyId)
    if (!key) {
      throw new VaultError(
        'E_VAULT_UNKNOWN_KEY',
        `The value was encrypted with vault key '${keyId}', which is not in the key ring; ` +
          'restore that key to the ring (retire a key only after re-encrypting its values).',
        { keyId },
      )
    }
    return key
  }
}

// The header joins the caller's aad, so a value cannot be relabelled with another key id.
function associatedData(header: Buffer, context: VaultContext): Buffer {
  if (typeof context?.aad !== 'string') {
    throw new TypeError('vault.encrypt/decrypt need { aad: string } binding the value to its row.')
  }
  wellFormed(context.aad, 'aad')
  return Buffer.concat([header, Buffer.from(context.aad, 'utf8')])
}

// UTF-8 writes every lone surrogate as U+FFFD: a plaintext would decrypt changed, and two aads
// or digest texts that differ only there would be one.
function wellFormed(text: string, what: string): void {
  if (typeof text === 'string' && hasLoneSurrogate(text)) {
    throw new VaultError(
      'E_VAULT_INPUT',
      `The vault ${what} holds a lone surrogate (half of a UTF-16 pair), which UTF-8 cannot carry: check text before it reaches the vault (safeText refuses it).`,
    )
  }
}

/**
 * The injection token of the app's {@link Vault}.
 *
 * @example
 * ```ts
 * import { VAULT } from '@mortar/core'
 *
 * const vault = app.resolve(VAULT)
 * ```
 */
export const VAULT = globalToken<Vault>('mortar.vault', {
  whenMissing:
    "bind the app's Vault in a module: binder.bind(VAULT, { useValue: new Vault({ keys }) })",
})
