import { requestContext } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { ShopPrincipal } from '../accounts/index.js'
import { SHOP_ACCESS } from '../access/index.js'
import { CARTS, type CartSessionData } from '../cart/index.js'
import {
  CartChangedError,
  CHECKOUT,
  IdempotencyKeyReusedError,
  type PlacedOrder,
} from './checkout.js'

/** What the shopper chose at checkout. */
export interface CheckoutChoice {
  readonly paymentMethodId: string
  readonly checkoutKey?: string | undefined
  /** The `cartQuote` of the cart the checkout page (or `GET /cart`) showed. */
  readonly quote?: string | undefined
}

/**
 * Checks out the session's cart for `principal` (the JSON API and the checkout page alike):
 * checks against the policy that the principal may read their own orders, places the order
 * under the chosen key or else the cart's own, and empties the cart in the order's
 * transaction, on the condition that it is still the cart read: a product added meanwhile (in
 * another tab) is a 409 `E_CART_CHANGED`, nothing placed, never an order that silently took
 * the new line away. The emptied cart keeps its order's key until the next product lands, so a
 * checkout retried or sent twice at once answers its first order instead of placing (and
 * charging) another; retried with another card, it is refused, the cart being ordered.
 */
export async function checkoutCart(
  session: Session<CartSessionData>,
  principal: ShopPrincipal,
  choice: CheckoutChoice,
): Promise<PlacedOrder> {
  const context = requestContext()
  // Checked first: a checkout reads and writes the principal's own orders whatever it ends in,
  // and one that failed (sold out, a reused key) and was answered as a page had touched them
  // unchecked (a 500 E_AUTH_NOT_VERIFIED outside production).
  await context
    .resolve(SHOP_ACCESS)
    .authorize(principal, 'read', 'orders', { user_id: principal.id })
  const carts = context.resolve(CARTS)
  const cart = await carts.read(session)
  const cartKey = cart.lines.length > 0 ? cart.key : cart.orderedKey
  const checkoutKey = choice.checkoutKey ?? cartKey
  try {
    return await context.resolve(CHECKOUT).place({
      principal,
      cart: cart.lines,
      paymentMethodId: choice.paymentMethodId,
      checkoutKey,
      quote: choice.quote,
      withOrder: async (key) => {
        if (!(await carts.ordered(cart, key))) throw new CartChangedError()
      },
    })
  } catch (error) {
    // The cart's own key, spent by an order of this very cart: the cart is that order.
    if (checkoutKey === cartKey && error instanceof IdempotencyKeyReusedError && error.sameCart) {
      throw new IdempotencyKeyReusedError({ cart: 'emptied' })
    }
    throw error
  }
}
