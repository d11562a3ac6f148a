import { NotFoundError, requestContext, safeText } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requirePrincipal } from '../accounts/index.js'
import { type CartSessionData, checkoutKeySchema } from '../cart/index.js'
import { checkoutCart } from './checkout-cart.js'
import { ORDER_HISTORY } from './order-history.js'
import { parseInput } from '../validation/index.js'

/** What the order routes need. */
export interface OrderRoutesOptions {
  /** The request's session, whose cart a checkout orders. */
  readonly session: () => Session<CartSessionData>
}

/** An order id: a UUID. Anything else names no order (the same 404 as a missing one). */
export const orderIdSchema = z.uuid()

const orderParams = z.object({ id: orderIdSchema })
/** What a checkout takes, from JSON or the checkout form. */
export const checkoutBody = z.object({
  paymentMethodId: safeText({ min: 1, max: 64 }),
  checkoutKey: checkoutKeySchema.optional(),
  quote: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/)
    .optional(),
})
const listQuery = z.object({
  after: z.string().max(4096).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
})

/**
 * Orders over HTTP (JSON), for the logged-in user.
 *
 * - `POST /orders` `{ paymentMethodId, checkoutKey?, quote? }` (or an `Idempotency-Key` header):
 *   checks out the cart (201 with the order) and empties it in the order's transaction; with
 *   the `quote` of `GET /cart` or the checkout page, a cart or price changed since is a 409
 *   `E_CART_CHANGED`, nothing placed (as is a product added while the checkout ran). A repeated
 *   key, or without one the same cart again (also once it is ordered and empty), answers the
 *   first order (200); the key with another cart or card is a 422 `E_IDEMPOTENCY_KEY_REUSED`.
 *   409 `E_OUT_OF_STOCK`, 422 `E_CART_EMPTY`, 422 `E_ORDER_TOO_LARGE`.
 * - `GET /orders?after=&limit=`: `{ items, nextCursor }`, newest first.
 * - `GET /orders/:id`: one order; 404 when it is not the caller's.
 */
export async function orderRoutes(
  server: FastifyInstance,
  options: OrderRoutesOptions,
): Promise<void> {
  server.post('/orders', async (request, reply) => {
    const me = requirePrincipal()
    const body = parseInput(checkoutBody, request.body)
    const header = request.headers['idempotency-key']
    const checkoutKey =
      body.checkoutKey ?? (header === undefined ? undefined : parseInput(checkoutKeySchema, header))
    const { order, created } = await checkoutCart(options.session(), me, {
      paymentMethodId: body.paymentMethodId,
      checkoutKey,
      quote: body.quote,
    })
    reply.code(created ? 201 : 200)
    return order
  })

  server.get('/orders', async (request) => {
    const me = requirePrincipal()
    const { after, limit } = parseInput(listQuery, request.query)
    return requestContext().resolve(ORDER_HISTORY).list(me, { after, limit })
  })

  server.get('/orders/:id', async (request) => {
    const me = requirePrincipal()
    const parsed = orderParams.safeParse(request.params)
    // A malformed id names no order: the same 404 as another user's or a missing one.
    if (!parsed.success) throw new NotFoundError('There is no order with this id.')
    return requestContext().resolve(ORDER_HISTORY).get(me, parsed.data.id)
  })
}
