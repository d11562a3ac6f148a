import { integerId, requestContext } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { currentPrincipal } from '../accounts/index.js'
import { PRODUCT_CATALOG } from '../catalog/index.js'
import { type CartItem, type CartSessionData, cartItemSchema, MAX_PRODUCT_ID } from './cart.js'
import { priceCart } from './cart-prices.js'
import { CARTS, type ProductExists } from './cart-store.js'
import { trackCartAdd } from '../tracking/index.js'
import { parseInput } from '../validation/index.js'

/** What the cart routes need. */
export interface CartRoutesOptions {
  /** The request's session, which keeps the id of its cart. */
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
 * The cart, kept in the database under an id the visitor's session holds, so it works before
 * login, survives it (login keeps the session's data) and is a new, empty one after logout.
 * Changes to one cart sent at once all land. Changes answer `{ items }`.
 *
 * - `GET /cart`: `{ items, totalCents, quote }`: the lines, their total at today's prices, and
 *   the quote to send with the checkout (`POST /orders`), which refuses a cart or a price
 *   changed since (409 `E_CART_CHANGED`); `quote` is null while a product in the cart is no
 *   longer sold.
 * - `POST /cart` `{ productId, quantity = 1 }`: adds `quantity` of the product (at most 99 of one).
 * - `DELETE /cart/:productId`: removes the product's line (404 when the cart has none).
 * - `DELETE /cart`: empties the cart (and drops its checkout key: the next cart is a new order).
 */
export async function cartRoutes(
  server: FastifyInstance,
  options: CartRoutesOptions,
): Promise<void> {
  const { session, productExists } = options
  const carts = () => requestContext().resolve(CARTS)
  const answer = (items: readonly CartItem[]) => ({ items })

  server.get('/cart', async () => {
    const { lines } = await carts().read(session())
    const priced = await priceCart(
      requestContext().resolve(PRODUCT_CATALOG),
      currentPrincipal(),
      lines,
    )
    return { items: lines, totalCents: priced.totalCents, quote: priced.quote ?? null }
  })

  server.post('/cart', async (request, reply) => {
    const item = parseInput(addBody, request.body)
    const cart = await carts().add(session(), item, productExists)
    trackCartAdd(item.productId, item.quantity)
    reply.code(201)
    return answer(cart)
  })

  server.delete('/cart/:productId', async (request) => {
    const { productId } = parseInput(lineParams, request.params)
    return answer(await carts().remove(session(), productId))
  })

  server.delete('/cart', async () => {
    await carts().empty(session())
    return answer([])
  })
}
