import { isMortarError, requestContext } from '@mortar/core'
import type { FastifyInstance } from 'fastify'
import { requirePrincipal } from '../accounts/index.js'
import { CARTS, newCheckoutKey, priceCart } from '../cart/index.js'
import { PRODUCT_CATALOG } from '../catalog/index.js'
import {
  checkoutBody,
  checkoutCart,
  IdempotencyKeyReusedError,
  MAX_ORDER_TOTAL_CENTS,
  OrderTooLargeError,
} from '../orders/index.js'
import { PAYMENT_METHODS } from '../payments/index.js'
import { money } from './format.js'
import { html } from './html.js'
import { csrfField, layout } from './layout.js'
import { flash, page, pageChrome, type StorefrontOptions, seeOther } from './page.js'
import { parseInput } from '../validation/index.js'

/**
 * Checkout in HTML: `GET /store/checkout` shows the cart's total and the saved cards to pay
 * with; `POST /store/checkout` places the order and goes to its page. The form carries a fresh
 * checkout key, so a double-submitted form places one order, and the quote of the lines and
 * prices it shows, so a cart changed in another tab (or a price changed) is shown again rather
 * than charged unseen. A cart that cannot be ordered (sold out, empty, too large) gets no form
 * (it could only fail) but the reason, and a checkout refused for it goes back to the cart page
 * with the reason.
 */
export async function checkoutPages(
  server: FastifyInstance,
  options: StorefrontOptions,
): Promise<void> {
  server.get(
    '/checkout',
    page(async () => {
      const me = requirePrincipal()
      const chrome = await pageChrome(options)
      const context = requestContext()
      const cart = await context.resolve(CARTS).read(options.session())
      if (cart.lines.length === 0) {
        return layout(
          'Checkout',
          chrome,
          html`<p>Your cart is empty. <a href="/store">Browse the products</a>.</p>`,
        )
      }
      const [priced, methods] = await Promise.all([
        priceCart(context.resolve(PRODUCT_CATALOG), me, cart.lines),
        context.resolve(PAYMENT_METHODS).list(me.id),
      ])
      // Gone, or hidden from this shopper by the policy: the checkout would refuse it as sold
      // out, so the page offers no form (a quote at $0 for it) and sends them to the cart.
      const { unavailable, quote, totalCents: total } = priced
      if (unavailable.length > 0 || quote === undefined) {
        return layout(
          'Checkout',
          chrome,
          html`<p id="unavailable">${unavailable.map((line) => `Product ${line.productId}`).join(', ')} ${unavailable.length === 1 ? 'is' : 'are'} no longer sold; <a href="/store/cart">remove ${unavailable.length === 1 ? 'it' : 'them'} from your cart</a> to check out.</p>`,
        )
      }
      if (total > MAX_ORDER_TOTAL_CENTS) {
        return layout(
          'Checkout',
          chrome,
          html`<p id="too-large">${tooLarge(total)} <a href="/store/cart">Your cart</a></p>`,
        )
      }
      if (methods.length === 0) {
        return layout(
          'Checkout',
          chrome,
          html`<p>Total: <strong>${money(total)}</strong></p>
            <p>Save a card first: <a href="/store/account">your account</a>.</p>`,
        )
      }
      return layout(
        'Checkout',
        chrome,
        html`<ul>${priced.lines.map((line) => html`<li>${line.quantity} × ${line.product.name}</li>`)}</ul>
        <p>Total: <strong id="checkout-total">${money(total)}</strong></p>
        <form method="post" action="/store/checkout" class="stack">
          ${csrfField(chrome)}
          <input type="hidden" name="checkoutKey" value="${cart.key ?? newCheckoutKey()}">
          <input type="hidden" name="quote" value="${quote}">
          <fieldset><legend>Pay with</legend>
          ${methods.map(
            (method, index) =>
              html`<label class="row"><input type="radio" name="paymentMethodId" value="${method.id}" ${index === 0 ? 'checked' : ''}>
                ${method.brand} •••• ${method.last4}</label>`,
          )}
          </fieldset>
          <button id="place-order">Place order</button>
        </form>`,
      )
    }),
  )

  server.post(
    '/checkout',
    page(async (request, reply) => {
      const me = requirePrincipal()
      const parsed = parseInput(checkoutBody, request.body)
      try {
        const { order } = await checkoutCart(options.session(), me, parsed)
        await flash(options, 'Thank you! Your order is placed; a confirmation is on its way.')
        return seeOther(reply, `/store/orders/${order.id}`)
      } catch (error) {
        if (error instanceof OrderTooLargeError) {
          await flash(options, tooLarge(error.totalCents), 'alert')
          return seeOther(reply, '/store/cart')
        }
        if (
          isMortarError(error) &&
          (error.code === 'E_OUT_OF_STOCK' || error.code === 'E_CART_EMPTY')
        ) {
          await flash(options, error.message, 'alert')
          return seeOther(reply, '/store/cart')
        }
        // The cart or a price changed since the page: the checkout again, as it is now.
        if (isMortarError(error) && error.code === 'E_CART_CHANGED') {
          await flash(options, error.message, 'alert')
          return seeOther(reply, '/store/checkout')
        }
        // A form of an order placed already, sent over a new cart (a stale tab): the checkout
        // again, with this cart and its key. The cart that order holds (only the card other) is
        // ordered: its orders.
        if (error instanceof IdempotencyKeyReusedError) {
          await flash(options, error.message, 'alert')
          return seeOther(reply, error.cart === 'emptied' ? '/store/orders' : '/store/checkout')
        }
        throw error
      }
    }),
  )
}

/** Why a cart past the order-total cap gets no checkout, in money. */
function tooLarge(totalCents: number): string {
  return `This cart totals ${money(totalCents)}, more than one order may (${money(MAX_ORDER_TOTAL_CENTS)}): order it in parts.`
}
