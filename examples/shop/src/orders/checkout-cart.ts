import { requestContext } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { ShopPrincipal } from '../accounts/index.js'
import { SHOP_ACCESS } from '../access/index.js'
import { type CartSessionData, emptySessionCart, renewCartKey } from '../cart/index.js'
import { CHECKOUT, IdempotencyKeyReusedError, type PlacedOrder } from './checkout.js'

/** What the shopper chose at checkout. */
export interface CheckoutChoice {
  readonly paymentMethodId: string
  readonly checkoutKey?: string | undefined
  /** The `cartQuote` of the cart the checkout page showed, when a page did. */
  readonly quote?: string | undefined
}

/**
 * Checks out the session's cart for `principal` (the JSON API and the checkout page alike):
 * checks against the policy that the principal may read their own orders, places the order
 * under the chosen key or else the cart's own, and empties the cart (and drops its key) once
 * the cart is ordered. Keyed by the cart, a request retried, sent twice at once or replayed
 * with an older cookie of the same cart answers its first order instead of placing (and
 * charging) another. The cart's own key found spent by an order of another cart is renewed
 * (and the checkout refused), so the next checkout of this cart goes through; spent by an
 * order of this cart with another card, the cart is ordered: emptied, and the checkout refused.
 */
export async function checkoutCart(
  session: Session<CartSessionData>,
  principal: ShopPrincipal,
  choice: CheckoutChoice,
): Promise<PlacedOrder> {
  const context = requestContext()
  const { cartKey } = session.data
  const checkoutKey = choice.checkoutKey ?? cartKey
  const ownKey = checkoutKey !== undefined && checkoutKey === cartKey
  // Checked first: a checkout reads and writes the principal's own orders whatever it ends in,
  // and one that failed (sold out, a reused key) and was answered as a page had touched them
  // unchecked (a 500 E_AUTH_NOT_VERIFIED outside production).
  await context
    .resolve(SHOP_ACCESS)
    .authorize(principal, 'read', 'orders', { user_id: principal.id })
  let placed: PlacedOrder
  try {
    placed = await context.resolve(CHECKOUT).place({
      principal,
      cart: session.data.cart,
      paymentMethodId: choice.paymentMethodId,
      checkoutKey,
      quote: choice.quote,
    })
  } catch (error) {
    // The cart's key placed an order whose cookie (the one that dropped the key) never came
    // back. The cart changed since: kept, the key would refuse every checkout of this cart.
    // Only the card changed: this cart is ordered, and a new key would order (and charge) it
    // again. A key the client chose stays theirs to change.
    if (!ownKey || !(error instanceof IdempotencyKeyReusedError)) throw error
    if (error.sameCart) {
      await emptySessionCart(session)
      throw new IdempotencyKeyReusedError({ cart: 'emptied' })
    }
    await renewCartKey(session)
    throw new IdempotencyKeyReusedError({ cart: 'renewed' })
  }
  if (placed.created || ownKey) await emptySessionCart(session)
  return placed
}
