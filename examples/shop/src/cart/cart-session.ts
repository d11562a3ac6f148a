import { randomBytes } from 'node:crypto'
import { NotFoundError, ValidationError } from '@mortar/core'
import type { Session } from '@mortar/session'
import { addToCart, type CartItem, type CartSessionData, removeFromCart } from './cart.js'

/** Whether a product exists; lets the cart refuse ids the catalog does not know. */
export type ProductExists = (productId: number) => Promise<boolean>

/**
 * Adds `item` to the session's cart (giving the cart its checkout key if it has none) and saves
 * the session. A product the catalog does not know
 * is a 422 `E_VALIDATION`; a full cart a 422 `E_CART_FULL`; more than 99 of one product a 422
 * `E_CART_QUANTITY`.
 */
export async function addToSessionCart(
  session: Session<CartSessionData>,
  item: CartItem,
  productExists?: ProductExists,
): Promise<CartItem[]> {
  if (productExists !== undefined && !(await productExists(item.productId))) {
    throw new ValidationError(
      [{ path: 'productId', code: 'unknown_product', message: 'There is no such product.' }],
      `There is no product ${item.productId}; pick one from GET /products.`,
    )
  }
  session.data.cart = addToCart(session.data.cart, item)
  session.data.cartKey ??= newCheckoutKey()
  await session.save()
  return session.data.cart
}

/**
 * Removes the product's line from the session's cart (and the cart's key with its last line) and
 * saves; a 404 when it has none.
 */
export async function removeFromSessionCart(
  session: Session<CartSessionData>,
  productId: number,
): Promise<CartItem[]> {
  if (!session.data.cart.some((line) => line.productId === productId)) {
    throw new NotFoundError(`Product ${productId} is not in your cart.`)
  }
  session.data.cart = removeFromCart(session.data.cart, productId)
  if (session.data.cart.length === 0) session.data.cartKey = undefined
  await session.save()
  return session.data.cart
}

/**
 * Empties the session's cart and drops its checkout key (the next cart gets a new one), then
 * saves: after an order, or when the shopper empties it.
 */
export async function emptySessionCart(session: Session<CartSessionData>): Promise<void> {
  session.data.cart = []
  session.data.cartKey = undefined
  await session.save()
}

/**
 * Gives the session's cart a new checkout key and saves: its key placed an order that the
 * session never learned of (the answer lost, an older cookie replayed), and the cart or card
 * changed since, so every checkout under the old key is refused.
 */
export async function renewCartKey(session: Session<CartSessionData>): Promise<void> {
  session.data.cartKey = newCheckoutKey()
  await session.save()
}

/** A random checkout key, for a cart or a checkout form. */
export function newCheckoutKey(): string {
  return randomBytes(16).toString('base64url')
}
