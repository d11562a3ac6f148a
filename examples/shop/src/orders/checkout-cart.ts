import { requestContext } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { ShopPrincipal } from '../accounts/index.js'
import { SHOP_ACCESS } from '../access/index.js'
import type { CartSessionData } from '../cart/index.js'
import { CHECKOUT, type PlacedOrder } from './checkout.js'

/** What the shopper chose at checkout. */
export interface CheckoutChoice {
  readonly paymentMethodId: string
  readonly checkoutKey?: string | undefined
}

/**
 * Checks out the session's cart for `principal` (the JSON API and the checkout page alike):
 * checks against the policy that the principal may read their own orders, places the order
 * under the chosen key or else the cart's own, and empties the cart (and drops its key) once the cart is ordered. Keyed by the cart,
 * a request retried, sent twice at once or replayed with an older cookie of the same cart
 * answers its first order instead of placing (and charging) another.
 */
export async function checkoutCart(
  session: Session<CartSessionData>,
  principal: ShopPrincipal,
  choice: CheckoutChoice,
): Promise<PlacedOrder> {
  const context = requestContext()
  const { cartKey } = session.data
  const checkoutKey = choice.checkoutKey ?? cartKey
  // Checked first: a checkout reads and writes the principal's own orders whatever it ends in,
  // and one that failed (sold out, a reused key) and was answered as a page had touched them
  // unchecked (a 500 E_AUTH_NOT_VERIFIED outside production).
  await context
    .resolve(SHOP_ACCESS)
    .authorize(principal, 'read', 'orders', { user_id: principal.id })
  const placed = await context.resolve(CHECKOUT).place({
    userId: principal.id,
    cart: session.data.cart,
    paymentMethodId: choice.paymentMethodId,
    checkoutKey,
  })
  if (placed.created || (checkoutKey !== undefined && checkoutKey === cartKey)) {
    session.data.cart = []
    session.data.cartKey = undefined
    await session.save()
  }
  return placed
}
