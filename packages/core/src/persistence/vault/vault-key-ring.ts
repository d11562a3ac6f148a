import { secretWeakness } from '../../config/secret-weakness.js'
import { createSecretKey, type KeyObject } from 'node:crypto'
import { Secret } from '../../config/secret.js'
import { VaultError } from './vault-error.js'

/** One key's material: 32 bytes in base64 (or base64url), plain or as a config `Secret`. */
export type VaultKeyMaterial = string | Secret<string>

/** One entry of a key ring given as a list, the form that can express (and catch) duplicates. */
export interface VaultKeyEntry {
  readonly id: string
  readonly key: VaultKeyMaterial
}

/**
 * The keys a {@link Vault} knows, by id: a record (`{ k2024: '…', k2025: '…' }`, as a `secret()`
 * config value gives it, whole or per key) or a list of `{ id, key }`.
 */
export type VaultKeys =
  | Readonly<Record<string, VaultKeyMaterial>>
  | Secret<Readonly<Record<string, string>>>
  | readonly VaultKeyEntry[]

/** A checked key ring: ids in the order given, keys as non-printing KeyObjects. */
export interface KeyRing {
  readonly keys: ReadonlyMap<string, KeyObject>
  readonly primary: string
}

const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/
const BASE64 = /^(?:[A-Za-z0-9+/]|[A-Za-z0-9_-])+={0,2}$/
const KEY_BYTES = 32
const GENERATE = `node -e "console.log(crypto.randomBytes(32).toString('base64'))"`

function ringError(message: string, keyId?: string): VaultError {
  return new VaultError('E_VAULT_KEY_RING', message, keyId === undefined ? {} : { keyId })
}

function entriesOf(keys: VaultKeys): VaultKeyEntry[] {
  if (Array.isArray(keys)) return [...(keys as readonly VaultKeyEntry[])]
  const record = Secret.isSecret(keys) ? keys.reveal() : keys
  if (typeof record !== 'object' || record === null) {
    throw ringError(
      'The vault key ring must be a record of key id → base64 key, or a list of { id, key }.',
    )
  }
  return Object.entries(record as Record<string, VaultKeyMaterial>).map(([id, key]) => ({
    id,
    key,
  }))
}

function keyBytes(id: string, material: VaultKeyMaterial): Buffer {
  const text: unknown = Secret.isSecret(material) ? material.reveal() : material
  if (typeof text !== 'string' || !BASE64.test(text.trim())) {
    throw ringError(`Vault key '${id}' is not base64; generate one with ${GENERATE}.`, id)
  }
  // Node's base64 decoder reads the base64url alphabet too.
  const bytes = Buffer.from(text.trim(), 'base64')
  if (bytes.length !== KEY_BYTES) {
    throw ringError(
      `Vault key '${id}' is ${bytes.length} bytes; AES-256 needs exactly ${KEY_BYTES}. Generate one with ${GENERATE}.`,
      id,
    )
  }
  const weakness = secretWeakness(bytes)
  if (weakness !== undefined) {
    throw ringError(
      `Vault key '${id}' is guessable: ${weakness}. Generate one with ${GENERATE}.`,
      id,
    )
  }
  return bytes
}

/** Checks a key ring and picks its primary; errors name the key id and never the key. */
export function parseKeyRing(keys: VaultKeys, primary?: string): KeyRing {
  const entries = entriesOf(keys)
  if (entries.length === 0) {
    throw ringError(
      `The vault key ring is empty; add at least one key, e.g. generated with ${GENERATE}.`,
    )
  }
  const ring = new Map<string, KeyObject>()
  for (const { id, key } of entries) {
    if (typeof id !== 'string' || !KEY_ID.test(id)) {
      throw ringError(
        `Vault key id '${String(id).slice(0, 64)}' is invalid; use 1–64 letters, digits, '_', '-' or '.'.`,
      )
    }
    if (ring.has(id))
      throw ringError(`Vault key id '${id}' appears twice; give each key its own id.`, id)
    ring.set(id, createSecretKey(keyBytes(id, key)))
  }
  const chosen = primary ?? entries.at(-1)?.id ?? ''
  if (!ring.has(chosen)) {
    throw ringError(
      `The primary vault key '${chosen}' is not in the ring; add it or pick one of its ids.`,
      chosen,
    )
  }
  return { keys: ring, primary: chosen }
}
