import { randomBytes } from 'node:crypto'
import { NotFoundError, ValidationError } from '@mortar/core'
import type { Session } from '@mortar/session'
import { addToCart, type CartItem, type CartSessionData, removeFromCart } from './cart.js'

/** Whether a product exists; lets the cart refuse ids the catalog does not know. */
export type ProductExists = (productId: number) => Promise<boolean>

/**
 * Adds `item` to the session's cart (giving the cart its checkout key if it has none) and saves
 * the session. A product the catalog does not know
 * is a 422 `E_VALIDATION`; a full cart a 422 `E_CART_FULL`.
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
  session.data.cartKey ??= randomBytes(16).toString('base64url')
  await session.save()
  return session.data.cart
}

/** Removes the product's line from the session's cart and saves; a 404 when it has none. */
export async function removeFromSessionCart(
  session: Session<CartSessionData>,
  productId: number,
): Promise<CartItem[]> {
  if (!session.data.cart.some((line) => line.productId === productId)) {
    throw new NotFoundError(`Product ${productId} is not in your cart.`)
  }
  session.data.cart = removeFromCart(session.data.cart, productId)
  await session.save()
  return session.data.cart
}
