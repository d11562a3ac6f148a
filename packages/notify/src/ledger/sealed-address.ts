import type { Vault } from '@mortar/core'
import { NotifyConfigError } from '../errors.js'
import { ON_DEMAND_ID_PREFIX, type Recipient } from '../notification/recipient.js'
import { shownAddress } from '../notification/shown-address.js'

// A sealed address as stored: its shown form, then the Vault ciphertext of the whole address
// (base64url). A space is never part of a URL, so no plain address is taken for a sealed one.
const SEALED = / sealed:([A-Za-z0-9_-]+)$/
// An on-demand recipient's keyed id; its unkeyed ids go on with a channel name, never a '#'.
const KEYED = `${ON_DEMAND_ID_PREFIX}#`

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

  /**
   * The id the ledger keeps for a recipient id: an on-demand recipient's (made of its addresses:
   * a mail address as it is, a URL's host and a plain hash of it) as a keyed digest under the
   * Vault, `route:#…`, so no table, event or log holds the addresses, nor a hash a dictionary
   * reverses; the same addresses give the same id while the Vault's primary key stays, so
   * idempotency keys, throttles and digests still apply. Any other id, and every id without a
   * Vault (which stores no URL at all), as it is.
   */
  recipientId(id: string): string {
    if (this.#vault === undefined || !id.startsWith(ON_DEMAND_ID_PREFIX) || id.startsWith(KEYED))
      return id
    return `${KEYED}${this.#vault.digest(id, { purpose: 'mortar.notify.on-demand-recipient' })}`
  }

  /** The recipient as the ledger keeps it: with the id {@link AddressSeal.recipientId} gives. */
  recipient<R extends Recipient>(recipient: R): R {
    const id = this.recipientId(recipient.id)
    return id === recipient.id ? recipient : { ...recipient, id }
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
