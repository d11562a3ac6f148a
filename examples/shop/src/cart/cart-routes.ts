import { integerId, NotFoundError, ValidationError } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import {
  addToCart,
  type CartItem,
  type CartSessionData,
  cartItemSchema,
  MAX_PRODUCT_ID,
  removeFromCart,
} from './cart.js'

/** What the cart routes need. */
export interface CartRoutesOptions {
  /** The request's session, whose data holds the cart. */
  readonly session: () => Session<CartSessionData>
  /**
   * Whether a product exists, so a cart cannot hold ids the catalog does not know; without it,
   * any positive integer id is accepted.
   */
  readonly productExists?: (productId: number) => Promise<boolean>
}

const addBody = z.object({
  productId: cartItemSchema.shape.productId,
  quantity: cartItemSchema.shape.quantity.default(1),
})
const lineParams = z.object({ productId: integerId({ max: MAX_PRODUCT_ID }) })

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input)
  if (!parsed.success) throw ValidationError.fromZod(parsed.error)
  return parsed.data
}

/**
 * The cart, kept in the visitor's sealed session cookie, so it works before login, survives it
 * (login keeps the session's data) and is emptied by logout. Every answer is `{ items }`.
 *
 * - `GET /cart`: the cart.
 * - `POST /cart` `{ productId, quantity = 1 }`: adds `quantity` of the product (at most 99 of one).
 * - `DELETE /cart/:productId`: removes the product's line (404 when the cart has none).
 * - `DELETE /cart`: empties the cart.
 */
export async function cartRoutes(
  server: FastifyInstance,
  options: CartRoutesOptions,
): Promise<void> {
  const { session, productExists } = options
  const answer = (items: readonly CartItem[]) => ({ items })

  server.get('/cart', async () => answer(session().data.cart))

  server.post('/cart', async (request, reply) => {
    const item = parse(addBody, request.body)
    if (productExists !== undefined && !(await productExists(item.productId))) {
      throw new ValidationError(
        [{ path: 'productId', code: 'unknown_product', message: 'There is no such product.' }],
        `There is no product ${item.productId}; pick one from GET /products.`,
      )
    }
    const current = session()
    current.data.cart = addToCart(current.data.cart, item)
    await current.save()
    reply.code(201)
    return answer(current.data.cart)
  })

  server.delete('/cart/:productId', async (request) => {
    const { productId } = parse(lineParams, request.params)
    const current = session()
    if (!current.data.cart.some((line) => line.productId === productId)) {
      throw new NotFoundError(`Product ${productId} is not in your cart.`)
    }
    current.data.cart = removeFromCart(current.data.cart, productId)
    await current.save()
    return answer(current.data.cart)
  })

  server.delete('/cart', async () => {
    const current = session()
    current.data.cart = []
    await current.save()
    return answer(current.data.cart)
  })
}
