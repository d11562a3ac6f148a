import { NotFoundError, requestContext } from '@mortar/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { requirePrincipal } from '../accounts/index.js'
import { ORDER_HISTORY, type Order, orderIdSchema } from '../orders/index.js'
import { money, when } from './format.js'
import { type Html, html } from './html.js'
import { layout } from './layout.js'
import { page, pageChrome, type StorefrontOptions } from './page.js'
import { parseInput } from '../validation/index.js'

const listQuery = z.object({ after: z.string().min(1).max(4096).optional() })
const orderParams = z.object({ id: orderIdSchema })

/** An order's lines, total, payment and shipping, as its buyer and admins see it. */
export function orderDetails(order: Order): Html {
  return html`<table><thead><tr><th>Product</th><th>Quantity</th><th>Price</th><th>Subtotal</th></tr></thead>
    <tbody>${order.lines.map(
      (
        line,
      ) => html`<tr><td><a href="/store/products/${line.productId}">${line.name}</a></td><td>${line.quantity}</td>
        <td>${money(line.unitPriceCents)}</td><td>${money(line.unitPriceCents * line.quantity)}</td></tr>`,
    )}</tbody>
    <tfoot><tr><th colspan="3">Total</th><th>${money(order.totalCents)}</th></tr></tfoot></table>
    <p>Status: <strong class="status">${order.status}</strong>${order.trackingCode === null ? '' : html` · tracking <code>${order.trackingCode}</code>`}</p>
    <p class="muted">Placed ${when(order.createdAt)} · paid with ${order.paymentLabel}</p>`
}

/**
 * Order history in HTML: `GET /store/orders` lists the user's orders newest first (keyset
 * pages), `GET /store/orders/:id` shows one; another user's order is a 404 page, as a missing
 * one is (the policy decides, in SQL for the list).
 */
export async function orderPages(
  server: FastifyInstance,
  options: StorefrontOptions,
): Promise<void> {
  const history = () => requestContext().resolve(ORDER_HISTORY)

  server.get(
    '/orders',
    page(async (request) => {
      const me = requirePrincipal()
      const parsed = parseInput(listQuery, request.query)
      const result = await history().list(me, { after: parsed.after, limit: 20 })
      const chrome = await pageChrome(options)
      if (result.items.length === 0) {
        return layout(
          'Your orders',
          chrome,
          html`<p>No order yet. <a href="/store">Browse the products</a>.</p>`,
        )
      }
      return layout(
        'Your orders',
        chrome,
        html`<table id="orders"><thead><tr><th>Placed</th><th>Order</th><th>Items</th><th>Total</th><th>Status</th></tr></thead>
          <tbody>${result.items.map(
            (
              order,
            ) => html`<tr><td>${when(order.createdAt)}</td><td><a href="/store/orders/${order.id}">${order.id.slice(0, 8)}</a></td>
              <td>${order.lines.reduce((units, line) => units + line.quantity, 0)}</td><td>${money(order.totalCents)}</td><td>${order.status}</td></tr>`,
          )}</tbody></table>
          ${result.nextCursor === null ? '' : html`<p class="pager"><a rel="next" href="/store/orders?after=${encodeURIComponent(result.nextCursor)}">Older orders →</a></p>`}`,
      )
    }),
  )

  server.get(
    '/orders/:id',
    page(async (request) => {
      const me = requirePrincipal()
      const parsed = orderParams.safeParse(request.params)
      // A malformed id names no order: the same 404 as another user's or a missing one.
      if (!parsed.success) throw new NotFoundError('There is no order with this id.')
      const order = await history().get(me, parsed.data.id)
      return layout(`Order ${order.id.slice(0, 8)}`, await pageChrome(options), orderDetails(order))
    }),
  )
}
