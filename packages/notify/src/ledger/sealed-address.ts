import type { Vault } from '@mortar/core'
import { NotifyConfigError } from '../errors.js'
import { shownAddress } from '../notification/shown-address.js'

// A sealed address as stored: its shown form, then the Vault ciphertext of the whole address
// (base64url). A space is never part of a URL, so no plain address is taken for a sealed one.
const SEALED = / sealed:([A-Za-z0-9_-]+)$/

/**
 * Keeps secret-bearing addresses (those {@link shownAddress} hides part of: a webhook or chat
 * URL, often its own credential) out of the database in plaintext, on every path that stores
 * one (the delivery ledger, digest batches): sealed with the notify module's Vault, bound to
 * the row that holds it, opened only to send. Other addresses (mail, phone, ids) are stored as
 * they are. Without a Vault, storing a secret-bearing address is refused with a
 * {@link NotifyConfigError}, so it fails closed instead of landing in plaintext.
 */
export class AddressSeal {
  readonly #vault: Vault | undefined

  constructor(vault: Vault | undefined) {
    this.#vault = vault
  }

  /** `address` as stored in `place` (the row and column that hold it). */
  seal(address: string, place: string): string {
    if (shownAddress(address) === address) return address
    const vault = this.#need('store')
    return `${shownAddress(address)} sealed:${vault.encrypt(address, { aad: place })}`
  }

  /** The address `stored` in `place` holds, opened when sealed. */
  open(stored: string, place: string): string {
    const sealed = SEALED.exec(stored)
    if (sealed === null) return stored
    return this.#need('read').decrypt(sealed[1] as string, { aad: place })
  }

  #need(action: 'store' | 'read'): Vault {
    if (this.#vault !== undefined) return this.#vault
    throw new NotifyConfigError(
      `notify cannot ${action} a webhook or chat URL without a vault: such a URL is often its own ` +
        'credential and is kept encrypted at rest. Pass notifyModule({ vault }) (a Vault from @mortar/core).',
    )
  }
}

/** Whether a stored address is sealed. */
export function isSealed(stored: string): boolean {
  return SEALED.test(stored)
}

/** How a stored address is shown (sealed or not): a URL as its scheme and host only. */
export function shownStoredAddress(stored: string): string {
  const sealed = SEALED.exec(stored)
  return shownAddress(sealed === null ? stored : stored.slice(0, sealed.index))
}

/** What a delivery row's sealed address is bound to: that row's `address` column. */
export function deliveryAddressPlace(deliveryId: string): string {
  return `mortar_delivery:${deliveryId}:address`
}

/** What a digest batch's sealed route is bound to: that batch's recipient, that channel. */
export function digestRoutePlace(batchId: string, channel: string): string {
  return `mortar_digest_batch:${batchId}:routes.${channel}`
}
