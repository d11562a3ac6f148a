import { NotFoundError, requestContext, safeText, toProblem } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requirePrincipal } from '../accounts/index.js'
import { type CartSessionData, checkoutKeySchema } from '../cart/index.js'
import { IdempotencyKeyReusedError } from './checkout.js'
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
 *   checks out the cart (201 with the order), then empties it; with the checkout page's `quote`,
 *   a cart or price changed since is a 409 `E_CART_CHANGED`, nothing placed. A repeated key, or without one the same
 *   cart again, answers the first order (200); the key with another cart or card is a 422
 *   `E_IDEMPOTENCY_KEY_REUSED` (the cart's own key, spent by an order whose answer was lost,
 *   is renewed with it, so the next checkout orders the cart; spent by an order of this cart
 *   with another card, the cart is emptied). 409 `E_OUT_OF_STOCK`, 422 `E_CART_EMPTY`.
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
    try {
      const { order, created } = await checkoutCart(options.session(), me, {
        paymentMethodId: body.paymentMethodId,
        checkoutKey,
        quote: body.quote,
      })
      reply.code(created ? 201 : 200)
      return order
    } catch (error) {
      if (!(error instanceof IdempotencyKeyReusedError && error.cart !== 'kept')) throw error
      // Answered, not thrown: a thrown error's problem goes out without the session cookie,
      // and this one must carry the cart's new key (or its emptied cart), or every checkout is
      // refused again (or the ordered cart kept).
      const problem = toProblem(error, {
        instance: '/orders',
        requestId: requestContext().requestId,
      })
      return reply.code(problem.status).headers(problem.headers).send(problem.body)
    }
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
