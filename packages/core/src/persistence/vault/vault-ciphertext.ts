import { VaultError } from './vault-error.js'

/** The parts of a Vault ciphertext, in the order they are laid out. */
export interface VaultEnvelope {
  readonly keyId: string
  readonly iv: Buffer
  readonly tag: Buffer
  readonly data: Buffer
  /** Version and key id bytes: authenticated with the value, so neither can be swapped. */
  readonly header: Buffer
}

export const VAULT_FORMAT_VERSION = 1
export const IV_BYTES = 12
export const TAG_BYTES = 16
const BASE64URL = /^[A-Za-z0-9_-]+$/

/** The header of a ciphertext: the format version, the key id's length, the key id. */
export function envelopeHeader(keyId: string): Buffer {
  const id = Buffer.from(keyId, 'utf8')
  return Buffer.concat([Buffer.of(VAULT_FORMAT_VERSION, id.length), id])
}

/** Lays out `header ‖ iv ‖ tag ‖ data` as one base64url string. */
export function formatEnvelope(header: Buffer, iv: Buffer, tag: Buffer, data: Buffer): string {
  return Buffer.concat([header, iv, tag, data]).toString('base64url')
}

function malformed(): VaultError {
  return new VaultError(
    'E_VAULT_MALFORMED',
    'The value is not a Vault ciphertext (truncated, altered or never encrypted); ' +
      'check that the column holds values written by vault.encrypt().',
  )
}

/** Splits a ciphertext into its parts; anything that is not one throws `E_VAULT_MALFORMED`. */
export function parseEnvelope(ciphertext: string): VaultEnvelope {
  if (typeof ciphertext !== 'string' || !BASE64URL.test(ciphertext)) throw malformed()
  const bytes = Buffer.from(ciphertext, 'base64url')
  const idLength = bytes[1] ?? 0
  const headerLength = 2 + idLength
  if (
    bytes[0] !== VAULT_FORMAT_VERSION ||
    idLength === 0 ||
    bytes.length < headerLength + IV_BYTES + TAG_BYTES
  ) {
    throw malformed()
  }
  const keyId = bytes.subarray(2, headerLength).toString('utf8')
  return {
    keyId,
    header: bytes.subarray(0, headerLength),
    iv: bytes.subarray(headerLength, headerLength + IV_BYTES),
    tag: bytes.subarray(headerLength + IV_BYTES, headerLength + IV_BYTES + TAG_BYTES),
    data: bytes.subarray(headerLength + IV_BYTES + TAG_BYTES),
  }
}
