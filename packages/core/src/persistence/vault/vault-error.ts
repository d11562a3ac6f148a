import { MortarError, type MortarErrorOptions } from '../../errors/mortar-error.js'

/** The stable codes of a {@link VaultError}. */
export type VaultErrorCode =
  /** The key ring in config is unusable (empty, bad base64, wrong length, duplicate id). */
  | 'E_VAULT_KEY_RING'
  /** The value is not a Vault ciphertext (truncated, wrong version, not base64url). */
  | 'E_VAULT_MALFORMED'
  /** The ciphertext names a key id that is not in the ring. */
  | 'E_VAULT_UNKNOWN_KEY'
  /** Authentication failed: the value was altered, belongs to another row (aad) or key. */
  | 'E_VAULT_DECRYPT'
  /** A plaintext, aad or digest text holds a lone surrogate, which UTF-8 cannot carry. */
  | 'E_VAULT_INPUT'

/** Structured, non-secret fields of a {@link VaultError}. */
export interface VaultErrorOptions extends MortarErrorOptions {
  /** The key id concerned, when known; key ids are names, never key material. */
  readonly keyId?: string
}

/**
 * The error of every {@link Vault} failure. Its status is 500: a value that does not decrypt is
 * a fault of the server's data or keys, not of the client's request, so its message stays in the
 * logs. It never holds a key, a plaintext or a ciphertext.
 *
 * @example
 * ```ts
 * import { VaultError } from '@mortar/core'
 *
 * try {
 *   vault.decrypt(row.token, { aad: `payment_methods:${row.id}:token` })
 * } catch (error) {
 *   if (error instanceof VaultError && error.code === 'E_VAULT_UNKNOWN_KEY') {
 *     logger.error({ keyId: error.keyId }, 'a retired vault key is still in use')
 *   }
 *   throw error
 * }
 * ```
 */
export class VaultError extends MortarError {
  declare readonly code: VaultErrorCode
  readonly keyId: string | undefined

  constructor(code: VaultErrorCode, message: string, options: VaultErrorOptions = {}) {
    super(code, 500, message, options)
    this.keyId = options.keyId
  }
}
