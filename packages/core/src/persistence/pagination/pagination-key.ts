import { Secret } from '../../config/secret.js'
import { secretWeakness } from '../../config/secret-weakness.js'
import { MortarError } from '../../errors/mortar-error.js'

/**
 * The key that signs page cursors: a string (its UTF-8 bytes), raw bytes, or a config
 * `Secret<string>` from `secret()`. At least 32 bytes; generate one with
 * `node -e "console.log(crypto.randomBytes(32).toString('base64'))"`.
 */
export type PaginationKey = string | Uint8Array | Secret<string>

const MIN_KEY_BYTES = 32

/**
 * One key, or several to rotate without breaking open listings: the first signs new cursors,
 * every one is accepted.
 */
export type PaginationKeys = PaginationKey | readonly PaginationKey[]

/** Checks {@link PaginationKeys} and returns their bytes, signer first; errors never show a key. */
export function toKeyRing(keys: PaginationKeys): Uint8Array[] {
  const list: readonly PaginationKey[] = Array.isArray(keys) ? keys : [keys as PaginationKey]
  if (list.length === 0) {
    throw new MortarError(
      'E_PAGINATION_KEY',
      500,
      'Give the paginator at least one key of 32 bytes or more.',
    )
  }
  return list.map(toKeyBytes)
}

function toKeyBytes(key: PaginationKey): Uint8Array {
  const revealed: unknown = Secret.isSecret(key) ? key.reveal() : key
  const bytes =
    typeof revealed === 'string'
      ? Buffer.from(revealed, 'utf8')
      : revealed instanceof Uint8Array
        ? revealed
        : undefined
  if (bytes === undefined || bytes.length < MIN_KEY_BYTES) {
    throw new MortarError(
      'E_PAGINATION_KEY',
      500,
      `The pagination key must be at least ${MIN_KEY_BYTES} bytes; generate one with ` +
        `crypto.randomBytes(32).toString('base64') and pass it as a secret from config.`,
    )
  }
  const weakness = secretWeakness(bytes)
  if (weakness !== undefined) {
    throw new MortarError(
      'E_PAGINATION_KEY',
      500,
      `The pagination key is guessable: ${weakness}; generate one with ` +
        `crypto.randomBytes(32).toString('base64').`,
    )
  }
  return bytes
}
