import { html, Notification, type Recipient } from '@mortar/notify'
import type { Order } from '../orders/index.js'
import { money } from '../storefront/format.js'

/**
 * The notify categories of the shop: what a customer may turn off, and what not. (Admin alerts
 * go under notify's own `admin_alerts`, critical: past preferences and quiet hours.)
 */
export const SHOP_CATEGORIES = {
  /** Order confirmations: a receipt, never turned off. */
  orders: { required: true },
  /** Shipping updates: on every channel unless the customer turns one off. */
  shipping: {},
} as const

/** The categories a customer chooses channels for on the preferences page. */
export const OPTIONAL_CATEGORIES = ['shipping'] as const

function shortId(order: Order): string {
  return order.id.slice(0, 8)
}

function orderPath(order: Order): string {
  return `/store/orders/${order.id}`
}

function linesText(order: Order): string {
  return order.lines
    .map((line) => `${line.quantity} × ${line.name} (${money(line.unitPriceCents)})`)
    .join('\n')
}

/**
 * The receipt of a placed order, by mail and in the inbox. Written to the ledger in the
 * checkout's transaction, keyed by the order, so a retried or repeated checkout sends it once.
 */
export class OrderConfirmed extends Notification {
  readonly type = 'order.confirmed'
  readonly category = 'orders'
  readonly key: string

  constructor(readonly order: Order) {
    super()
    this.key = `confirmed:${order.id}`
  }

  via() {
    return ['mail', 'inbox'] as const
  }

  toMail() {
    const order = this.order
    return {
      subject: `Your order ${shortId(order)} is confirmed`,
      text: `Thank you for your order.\n\n${linesText(order)}\n\nTotal: ${money(order.totalCents)}\nPaid with ${order.paymentLabel}.`,
      html: html`<p>Thank you for your order.</p>
        <ul>${order.lines.map((line) => html`<li>${line.quantity} × ${line.name} (${money(line.unitPriceCents)})</li>`)}</ul>
        <p>Total: <strong>${money(order.totalCents)}</strong>, paid with ${order.paymentLabel}.</p>`.toString(),
    }
  }

  toInbox() {
    return {
      title: `Order ${shortId(this.order)} confirmed`,
      body: `Total ${money(this.order.totalCents)}.`,
      url: orderPath(this.order),
    }
  }
}

/**
 * An order moved along (shipped, delivered): mail, the inbox, and a text message when the
 * buyer gave a number and agreed to texts (the recipient then has a `phone`).
 */
export class OrderStatusChanged extends Notification {
  readonly category = 'shipping'
  readonly type: string
  readonly key: string

  constructor(readonly order: Order) {
    super()
    this.type = `order.${order.status}`
    this.key = `${order.status}:${order.id}`
  }

  via(recipient: Recipient) {
    return recipient.phone === undefined
      ? (['mail', 'inbox'] as const)
      : (['mail', 'sms', 'inbox'] as const)
  }

  #headline(): string {
    const order = this.order
    return order.status === 'shipped'
      ? `Order ${shortId(order)} is on its way${order.trackingCode === null ? '' : ` (tracking ${order.trackingCode})`}`
      : `Order ${shortId(order)} was delivered`
  }

  toMail() {
    return {
      subject: this.#headline(),
      text: `${this.#headline()}.\n\n${linesText(this.order)}`,
    }
  }

  toSms() {
    return { text: `Mortar Shop: ${this.#headline()}.` }
  }

  toInbox() {
    return { title: this.#headline(), url: orderPath(this.order) }
  }
}
