import { requestContext, safeText, UnauthorizedError } from '@mortar/core'
import type { Session } from '@mortar/session'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { newPaymentMethodSchema, PAYMENT_METHODS } from './payment-methods.js'
import { parseInput } from '../validation/index.js'

/** What the payment routes need. */
export interface PaymentRoutesOptions {
  /** The request's session; its user owns the payment methods. */
  readonly session: () => Session<unknown>
}

// A malformed id names no payment method: the same 404 as a missing one.
const methodParams = z.object({ id: safeText({ max: 64 }) })

/**
 * The logged-in user's saved payment methods. Responses show the brand and last four digits;
 * the provider token goes into the Vault and never comes back out over HTTP.
 *
 * - `GET /payment-methods`: `{ items: [{ id, brand, last4, createdAt }] }`.
 * - `POST /payment-methods` `{ token, last4, brand }`: saves one (201); the same token again
 *   answers the card saved (200), with another brand or last four a 422 `E_CARD_TOKEN_REUSED`.
 * - `DELETE /payment-methods/:id`: deletes one (204); 404 when the user has none with this id.
 */
export async function paymentRoutes(
  server: FastifyInstance,
  options: PaymentRoutesOptions,
): Promise<void> {
  const methods = () => requestContext().resolve(PAYMENT_METHODS)
  function userId(): string {
    const id = options.session().userId
    if (id === undefined) throw new UnauthorizedError('Log in first: POST /auth/login.')
    return id
  }

  server.get('/payment-methods', async () => ({ items: await methods().list(userId()) }))

  server.post('/payment-methods', async (request, reply) => {
    const owner = userId()
    const input = parseInput(newPaymentMethodSchema, request.body)
    const { method, created } = await methods().add(owner, input)
    reply.code(created ? 201 : 200)
    return method
  })

  server.delete('/payment-methods/:id', async (request, reply) => {
    const owner = userId()
    const { id } = parseInput(methodParams, request.params)
    await methods().remove(owner, id)
    reply.code(204)
    return null
  })
}
