import { integerId } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { type CartItem, type CartSessionData, cartItemSchema, MAX_PRODUCT_ID } from './cart.js'
import {
  addToSessionCart,
  emptySessionCart,
  type ProductExists,
  removeFromSessionCart,
} from './cart-session.js'
import { trackCartAdd } from '../tracking/index.js'
import { parseInput } from '../validation/index.js'

/** What the cart routes need. */
export interface CartRoutesOptions {
  /** The request's session, whose data holds the cart. */
  readonly session: () => Session<CartSessionData>
  /**
   * Whether a product exists, so a cart cannot hold ids the catalog does not know; without it,
   * any positive integer id is accepted.
   */
  readonly productExists?: ProductExists
}

const addBody = z.object({
  productId: cartItemSchema.shape.productId,
  quantity: cartItemSchema.shape.quantity.default(1),
})
const lineParams = z.object({ productId: integerId({ max: MAX_PRODUCT_ID }) })

/**
 * The cart, kept in the visitor's sealed session cookie, so it works before login, survives it
 * (login keeps the session's data) and is emptied by logout. Every answer is `{ items }`.
 *
 * - `GET /cart`: the cart.
 * - `POST /cart` `{ productId, quantity = 1 }`: adds `quantity` of the product (at most 99 of one).
 * - `DELETE /cart/:productId`: removes the product's line (404 when the cart has none).
 * - `DELETE /cart`: empties the cart (and drops its checkout key: the next cart is a new order).
 */
export async function cartRoutes(
  server: FastifyInstance,
  options: CartRoutesOptions,
): Promise<void> {
  const { session, productExists } = options
  const answer = (items: readonly CartItem[]) => ({ items })

  server.get('/cart', async () => answer(session().data.cart))

  server.post('/cart', async (request, reply) => {
    const item = parseInput(addBody, request.body)
    const cart = await addToSessionCart(session(), item, productExists)
    trackCartAdd(item.productId, item.quantity)
    reply.code(201)
    return answer(cart)
  })

  server.delete('/cart/:productId', async (request) => {
    const { productId } = parseInput(lineParams, request.params)
    return answer(await removeFromSessionCart(session(), productId))
  })

  server.delete('/cart', async () => {
    await emptySessionCart(session())
    return answer([])
  })
}
