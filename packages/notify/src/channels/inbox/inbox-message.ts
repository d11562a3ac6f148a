/**
 * What `toInbox()` returns: an item of the recipient's in-app inbox.
 *
 * @example
 * ```ts
 * import type { InboxMessage } from '@mortar/notify'
 *
 * const message: InboxMessage = { title: 'Order shipped', body: 'Order o-1 is on its way.', url: '/orders/o-1' }
 * ```
 */
export interface InboxMessage {
  readonly title: string
  readonly body?: string | undefined
  /**
   * Where the item leads when clicked: a path of the app (`/orders/o-1`) or an http(s) URL, at
   * most 2 048 characters; anything else (`javascript:`, `//host`) makes the delivery dead.
   */
  readonly url?: string | undefined
  /** Anything else the app's inbox view needs (JSON). */
  readonly data?: Readonly<Record<string, unknown>> | undefined
}
