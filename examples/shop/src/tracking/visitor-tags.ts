import { createHmac, hkdfSync } from 'node:crypto'
import { type Secret, type Token, token } from '@mortar/core'

/**
 * Which account a linked `shop.visitor` cookie names, without putting the account id in it: an
 * HMAC of the id under a key derived from the shop's secret (`SESSION_PASSWORD`). An unkeyed
 * hash of the id let anyone who knew an account id (it is in `/me`, in links, in logs) tell the
 * browsers of that account apart, and write a cookie the shop took as that account's.
 */
export class VisitorTags {
  readonly #key: Buffer

  constructor(secret: Secret<string>) {
    // A key of its own: the session password seals cookies, and is never used raw for another
    // purpose.
    this.#key = Buffer.from(hkdfSync('sha256', secret.reveal(), '', 'shop.visitor owner tag', 32))
  }

  /** The tag of `userId`: 22 base64url characters (132 bits). */
  tag(userId: string): string {
    return createHmac('sha256', this.#key).update(userId).digest('base64url').slice(0, 22)
  }
}

/** The shop's {@link VisitorTags}, bound by `shopTrackingModules`. */
export const VISITOR_TAGS: Token<VisitorTags> = token<VisitorTags>('shop.visitor-tags')
