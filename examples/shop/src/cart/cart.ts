import { MortarError } from '@mortar/core'
import { z } from 'zod'

/** At most this many distinct products in a cart, which bounds its stored row. */
export const MAX_CART_LINES = 50

/** The largest product id a cart takes (the largest int32). */
export const MAX_PRODUCT_ID = 2_147_483_647

/** At most this many of one product in a cart. */
export const MAX_QUANTITY = 99
/**
 * Seconds a cart lives after its last change: the session cookie's lifetime (`ttl` of
 * `shopSessionModule`), so a cart outlives no cookie that could name it. Then it is gone and
 * the state store's hourly prune deletes its row.
 */
export const CART_TTL_SECONDS = 14 * 86_400

/** One line of a cart: a product id and how many of it. */
export const cartItemSchema = z.object({
  // An int32, as the catalog's ids are.
  productId: z.number().int().positive().max(MAX_PRODUCT_ID),
  quantity: z.number().int().min(1).max(MAX_QUANTITY),
})

/** A cart line. */
export type CartItem = z.output<typeof cartItemSchema>

/** A cart: its lines, one per product. */
export const cartSchema = z.array(cartItemSchema).max(MAX_CART_LINES)

/** A checkout key: what a form, an `Idempotency-Key` header or a cart's own key may carry. */
export const checkoutKeySchema = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/)

/**
 * A cart as the database keeps it: its lines and its checkout key, made when a product lands in
 * a cart without one and dropped when the cart is emptied. The order that empties the cart
 * leaves its key as `orderedKey` (until the next product lands), so a checkout retried after
 * its answer was lost finds that order instead of an empty cart.
 */
export const storedCartSchema = z.object({
  lines: cartSchema.default([]),
  key: checkoutKeySchema.optional(),
  orderedKey: checkoutKeySchema.optional(),
})

/** A cart as {@link storedCartSchema} gives it. */
export type StoredCart = z.output<typeof storedCartSchema>

/**
 * What the shop keeps in its session: the id its cart is stored under, the session's id when
 * the cart was first written, a new random id after login (which moves the cart there, see
 * `Carts.keepThroughLogin`). It goes with logout, which empties the data.
 */
export const cartSessionSchema = z.object({
  cartId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,64}$/)
    .optional(),
})

/** The session data {@link cartSessionSchema} gives. */
export type CartSessionData = z.output<typeof cartSessionSchema>

/** A cart: one line per product, in the order the products were first added. */
export type Cart = CartItem[]

/** A product added to a cart that already holds {@link MAX_CART_LINES} other products. */
export class CartFullError extends MortarError {
  constructor() {
    super(
      'E_CART_FULL',
      422,
      `A cart holds at most ${MAX_CART_LINES} different products; remove one before adding another.`,
    )
  }
}

/** More of one product than a cart holds: refused whole, never cut down to what fits. */
export class CartQuantityError extends MortarError {
  constructor(productId: number, inCart: number) {
    super(
      'E_CART_QUANTITY',
      422,
      `A cart holds at most ${MAX_QUANTITY} of one product; it has ${inCart} of product ${productId}, so add at most ${MAX_QUANTITY - inCart}.`,
      { details: { productId, inCart, max: MAX_QUANTITY } },
    )
  }
}

/**
 * The cart with `quantity` more of `productId` (a new line, or added to its line). Returns a
 * new cart; the one given is left as it was. Throws {@link CartFullError} for a new product
 * when the cart is full, {@link CartQuantityError} when the line would pass
 * {@link MAX_QUANTITY}.
 */
export function addToCart(cart: Cart, item: CartItem): Cart {
  const existing = cart.find((line) => line.productId === item.productId)
  if (existing === undefined) {
    if (cart.length >= MAX_CART_LINES) throw new CartFullError()
    return [...cart, { ...item }]
  }
  if (existing.quantity + item.quantity > MAX_QUANTITY) {
    throw new CartQuantityError(item.productId, existing.quantity)
  }
  return cart.map((line) =>
    line.productId === item.productId
      ? { productId: line.productId, quantity: line.quantity + item.quantity }
      : line,
  )
}

/** The cart without the line of `productId` (the same cart when it has none). */
export function removeFromCart(cart: Cart, productId: number): Cart {
  return cart.filter((line) => line.productId !== productId)
}
