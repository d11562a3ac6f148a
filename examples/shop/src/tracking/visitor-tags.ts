import { type Token, token, type Vault } from '@mortar/core'

/**
 * Which account a linked `shop.visitor` cookie names, without putting the account id in it: the
 * Vault's keyed digest of the id (`VAULT_KEYS`), for this purpose alone. An unkeyed hash of the id
 * let anyone who knew an account id (it is in `/me`, in links, in logs) tell the browsers of that
 * account apart, and write a cookie the shop took as that account's. The digest follows the
 * vault's primary key, so a rotation gives every linked browser a new visitor id (see the README).
 */
export class VisitorTags {
  readonly #vault: Vault

  constructor(vault: Vault) {
    this.#vault = vault
  }

  /** The tag of `userId`: 43 base64url characters (HMAC-SHA-256). */
  tag(userId: string): string {
    return this.#vault.digest(userId, { purpose: 'shop.visitor-owner' })
  }
}

/** The shop's {@link VisitorTags}, bound by `shopTrackingModules`. */
export const VISITOR_TAGS: Token<VisitorTags> = token<VisitorTags>('shop.visitor-tags')
