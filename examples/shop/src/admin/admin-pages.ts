import { NotFoundError, requestContext } from '@mortar/core'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { ACCOUNTS } from '../accounts/index.js'
import { FULFILMENT, ORDER_HISTORY, type Order, orderIdSchema } from '../orders/index.js'
import {
  acceptForms,
  csrfField,
  flash,
  type Html,
  html,
  htmlErrorPages,
  layout,
  money,
  orderDetails,
  page,
  pageChrome,
  type StorefrontOptions,
  seeOther,
  when,
} from '../storefront/index.js'
import { requireAdmin } from './admin-guard.js'
import type { SmsOutbox } from '../sms-stub/index.js'
import { parseInput } from '../validation/index.js'

/** A link on the admin overview to a page another module serves (the dashboard, the mailbox). */
export interface AdminLink {
  readonly href: string
  readonly label: string
}

/** What the admin pages need. */
export interface AdminPagesOptions extends StorefrontOptions {
  /** Pages mounted beside these (the analytics dashboard, the dev mailbox), for the overview. */
  readonly links?: readonly AdminLink[]
  /** What the development SMS stand-in took, listed at `/admin/sms` when the shop serves it. */
  readonly smsOutbox?: SmsOutbox | undefined
}

const listQuery = z.object({ after: z.string().min(1).max(4096).optional() })
const orderParams = z.object({ id: orderIdSchema })
const statusBody = z.object({
  status: z.enum(['shipped', 'delivered']),
  trackingCode: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9-]{0,64}$/)
    .optional()
    .transform((code) => (code === '' ? undefined : code)),
})

function statusForm(order: Order, csrf: Html): Html {
  if (order.status === 'delivered') return html`<p>Delivered: nothing left to do.</p>`
  const shipping = order.status === 'placed'
  return html`<form method="post" action="/admin/orders/${order.id}/status" class="stack">
    ${csrf}
    <input type="hidden" name="status" value="${shipping ? 'shipped' : 'delivered'}">
    ${shipping ? html`<label>Tracking code <input name="trackingCode" maxlength="64" pattern="[A-Za-z0-9\\-]*"></label>` : ''}
    <button id="advance-order">${shipping ? 'Mark shipped' : 'Mark delivered'}</button>
  </form>`
}

/**
 * The admin pages, under `/admin`, each for admins only (the policy's `enter` on
 * `admin_pages`; a visitor is sent to log in, a customer gets a 403 page):
 *
 * - `GET /admin`: links to the admin pages.
 * - `GET /admin/orders`: every order, newest first, with its buyer.
 * - `GET /admin/orders/:id`: one order and the form that moves it along.
 * - `POST /admin/orders/:id/status` `{ status: 'shipped' | 'delivered', trackingCode? }`: the
 *   shipping update, which notifies the buyer; a form gets a redirect back, JSON the order.
 */
export async function adminPages(
  server: FastifyInstance,
  options: AdminPagesOptions,
): Promise<void> {
  acceptForms(server)
  htmlErrorPages(server, options)
  const admin = (handler: Parameters<typeof page>[0]) =>
    page(async (request: FastifyRequest, reply: FastifyReply) => {
      requireAdmin()
      return handler(request, reply)
    })

  server.get(
    '/',
    admin(async () =>
      layout(
        'Admin',
        await pageChrome(options),
        html`<ul>
          <li><a href="/admin/orders">Orders</a></li>
          ${options.smsOutbox === undefined ? '' : html`<li><a href="/admin/sms">Development SMS</a></li>`}
          ${(options.links ?? []).map((link) => html`<li><a href="${link.href}">${link.label}</a></li>`)}
        </ul>`,
      ),
    ),
  )

  const outbox = options.smsOutbox
  if (outbox !== undefined) {
    server.get(
      '/sms',
      admin(async () =>
        layout(
          'Admin · Development SMS',
          await pageChrome(options),
          html`<p class="muted">What the SMS stand-in at /dev/sms took, newest first (this process only).</p>
          <table id="admin-sms"><thead><tr><th>Received</th><th>To</th><th>Text</th></tr></thead>
          <tbody>${outbox.list().map((sms) => html`<tr><td>${when(sms.receivedAt)}</td><td>${sms.to}</td><td>${sms.body}</td></tr>`)}</tbody></table>`,
        ),
      ),
    )
  }

  server.get(
    '/orders',
    admin(async (request) => {
      const me = requireAdmin()
      const parsed = parseInput(listQuery, request.query)
      const context = requestContext()
      const result = await context
        .resolve(ORDER_HISTORY)
        .list(me, { after: parsed.after, limit: 50 })
      const buyers = await context
        .resolve(ACCOUNTS)
        .contacts([...new Set(result.items.map((order) => order.userId))])
      return layout(
        'Admin · Orders',
        await pageChrome(options),
        html`<table id="admin-orders"><thead><tr><th>Placed</th><th>Order</th><th>Buyer</th><th>Total</th><th>Status</th></tr></thead>
          <tbody>${result.items.map(
            (
              order,
            ) => html`<tr><td>${when(order.createdAt)}</td><td><a href="/admin/orders/${order.id}">${order.id.slice(0, 8)}</a></td>
              <td>${buyers.get(order.userId)?.email ?? 'deleted account'}</td><td>${money(order.totalCents)}</td><td>${order.status}</td></tr>`,
          )}</tbody></table>
          ${result.nextCursor === null ? '' : html`<p class="pager"><a rel="next" href="/admin/orders?after=${encodeURIComponent(result.nextCursor)}">Older orders →</a></p>`}`,
      )
    }),
  )

  server.get(
    '/orders/:id',
    admin(async (request) => {
      const me = requireAdmin()
      const parsed = orderParams.safeParse(request.params)
      if (!parsed.success) throw new NotFoundError('There is no order with this id.')
      const context = requestContext()
      const order = await context.resolve(ORDER_HISTORY).get(me, parsed.data.id)
      const buyer = (await context.resolve(ACCOUNTS).contacts([order.userId])).get(order.userId)
      const chrome = await pageChrome(options)
      return layout(
        `Admin · Order ${order.id.slice(0, 8)}`,
        chrome,
        html`<p>Buyer: ${buyer?.email ?? 'deleted account'}</p>${orderDetails(order)}${statusForm(order, csrfField(chrome))}`,
      )
    }),
  )

  server.post(
    '/orders/:id/status',
    admin(async (request, reply) => {
      const me = requireAdmin()
      const params = orderParams.safeParse(request.params)
      if (!params.success) throw new NotFoundError('There is no order with this id.')
      const body = parseInput(statusBody, request.body)
      const order = await requestContext().resolve(FULFILMENT).update(me, params.data.id, body)
      if (request.headers['content-type']?.startsWith('application/json')) {
        return reply.send(order)
      }
      await flash(options, `Order ${order.id.slice(0, 8)} is ${order.status}; the buyer is told.`)
      return seeOther(reply, `/admin/orders/${order.id}`)
    }),
  )
}
