import { integerId, requestContext } from '@mortar/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import {
  CARTS,
  cartItemSchema,
  MAX_PRODUCT_ID,
  type ProductExists,
  priceCart,
} from '../cart/index.js'
import { PRODUCT_CATALOG } from '../catalog/index.js'
import { money } from './format.js'
import { html } from './html.js'
import { csrfField, layout } from './layout.js'
import { flash, page, pageChrome, type StorefrontOptions, seeOther } from './page.js'
import { parseInput } from '../validation/index.js'

/** What the cart pages need beyond the storefront's options. */
export interface CartPagesOptions extends StorefrontOptions {
  readonly productExists?: ProductExists
  /** Runs after a product was added (tracking). */
  readonly onAdded?: (productId: number, quantity: number) => void
}

// Form fields arrive as text.
const addForm = z.object({
  productId: integerId({ max: MAX_PRODUCT_ID }),
  quantity: z.coerce.number().pipe(cartItemSchema.shape.quantity).default(1),
})
const lineParams = z.object({ productId: integerId({ max: MAX_PRODUCT_ID }) })

/**
 * The cart in HTML: `GET /store/cart` shows it with prices from the catalog; `POST /store/cart`
 * (`productId`, `quantity`) adds to it and `POST /store/cart/:productId/remove` removes a line,
 * each answering with a redirect back to the cart.
 */
export async function cartPages(server: FastifyInstance, options: CartPagesOptions): Promise<void> {
  server.get(
    '/cart',
    page(async () => {
      const chrome = await pageChrome(options)
      const context = requestContext()
      const { lines } = await context.resolve(CARTS).read(options.session())
      if (lines.length === 0) {
        return layout(
          'Your cart',
          chrome,
          html`<p>Your cart is empty. <a href="/store">Browse the products</a>.</p>`,
        )
      }
      const priced = await priceCart(context.resolve(PRODUCT_CATALOG), chrome.principal, lines)
      const products = new Map(priced.lines.map((each) => [each.productId, each.product]))
      const rows = lines.map((line) => {
        const product = products.get(line.productId)
        const price = product?.priceCents ?? 0
        return html`<tr>
          <td>${product === undefined ? `Product ${line.productId} (no longer sold)` : html`<a href="/store/products/${line.productId}">${product.name}</a>`}</td>
          <td>${line.quantity}</td><td>${money(price)}</td><td>${money(price * line.quantity)}</td>
          <td><form method="post" action="/store/cart/${line.productId}/remove">${csrfField(chrome)}<button class="link">Remove</button></form></td>
        </tr>`
      })
      return layout(
        'Your cart',
        chrome,
        html`<table><thead><tr><th>Product</th><th>Quantity</th><th>Price</th><th>Subtotal</th><th></th></tr></thead>
          <tbody>${rows}</tbody>
          <tfoot><tr><th colspan="3">Total</th><th id="cart-total">${money(priced.totalCents)}</th><th></th></tr></tfoot></table>
          <p><a href="/store/checkout" id="checkout-link">Check out →</a></p>`,
      )
    }),
  )

  server.post(
    '/cart',
    page(async (request, reply) => {
      const parsed = parseInput(addForm, request.body)
      await requestContext().resolve(CARTS).add(options.session(), parsed, options.productExists)
      options.onAdded?.(parsed.productId, parsed.quantity)
      await flash(options, 'Added to your cart.')
      return seeOther(reply, '/store/cart')
    }),
  )

  server.post(
    '/cart/:productId/remove',
    page(async (request, reply) => {
      const parsed = parseInput(lineParams, request.params)
      await requestContext().resolve(CARTS).remove(options.session(), parsed.productId)
      return seeOther(reply, '/store/cart')
    }),
  )
}
