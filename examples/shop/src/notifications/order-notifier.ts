import { type Token, token } from '@mortar/core'
import type { Notifier, Recipient } from '@mortar/notify'
import type { Accounts, Contact } from '../accounts/index.js'
import type { Order, OrderListener } from '../orders/index.js'
import { OrderConfirmed, OrderStatusChanged } from './order-notifications.js'

/**
 * A customer as notify's recipient: the email always, the phone only when they agreed to texts
 * and the shop can send them (`smsEnabled`), so `via()` asks for SMS exactly then.
 */
export function recipientOf(contact: Contact, smsEnabled: boolean): Recipient {
  return {
    id: contact.id,
    email: contact.email,
    ...(smsEnabled && contact.smsOptIn && contact.phone !== null ? { phone: contact.phone } : {}),
  }
}

/**
 * Tells the buyer about their order from inside the order's transaction: the confirmation at
 * checkout, an update when an admin ships or delivers it. The ledger rows commit with the order
 * or not at all, so a failed checkout sends nothing.
 */
export class OrderNotifier implements OrderListener {
  readonly #notifier: Notifier
  readonly #accounts: Accounts
  readonly #smsEnabled: boolean

  constructor(notifier: Notifier, accounts: Accounts, smsEnabled: boolean) {
    this.#notifier = notifier
    this.#accounts = accounts
    this.#smsEnabled = smsEnabled
  }

  async orderPlaced(order: Order): Promise<void> {
    const buyer = await this.#buyer(order)
    if (buyer !== undefined) await this.#notifier.notify(buyer, new OrderConfirmed(order))
  }

  async orderStatusChanged(order: Order): Promise<void> {
    const buyer = await this.#buyer(order)
    if (buyer !== undefined) await this.#notifier.notify(buyer, new OrderStatusChanged(order))
  }

  async #buyer(order: Order): Promise<Recipient | undefined> {
    const contact = await this.#accounts.contact(order.userId)
    return contact === undefined ? undefined : recipientOf(contact, this.#smsEnabled)
  }
}

/** The {@link OrderNotifier}, for `ordersModule({ listeners })`. */
export const ORDER_NOTIFIER: Token<OrderListener> = token<OrderNotifier>('shop.order-notifier')
