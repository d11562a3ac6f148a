import { integerId, requestContext, safeText } from '@mortar/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { currentPrincipal } from '../accounts/index.js'
import { MAX_PRODUCT_ID } from '../cart/index.js'
import { PRODUCT_CATALOG, type Product } from '../catalog/index.js'
import { money } from './format.js'
import { type Html, html } from './html.js'
import { csrfField, layout, type PageChrome } from './layout.js'
import { page, pageChrome, type StorefrontOptions } from './page.js'
import { trackProductView, trackSearch } from '../tracking/index.js'
import { parseInput } from '../validation/index.js'

/** What the catalog pages need beyond the storefront's options. */
export interface CatalogPagesOptions extends StorefrontOptions {
  /** "Customers who bought this also bought": products for a product page, best first. */
  readonly alsoBought?: (productId: number, userId: string | undefined) => Promise<Product[]>
}

const listQuery = z.object({
  q: safeText({ max: 100 }).trim().default(''),
  after: z.string().min(1).max(4096).optional(),
})
const productParams = z.object({ id: integerId({ max: MAX_PRODUCT_ID }) })

function stockLabel(product: Product): Html {
  if (product.stock === 0) return html`<span class="sold-out">Sold out</span>`
  return html`<span class="muted">${product.stock} in stock</span>`
}

function addToCartForm(product: Product, chrome: PageChrome, withQuantity: boolean): Html {
  if (product.stock === 0) return html``
  const options = Array.from({ length: Math.min(product.stock, 10) }, (_, index) => index + 1)
  return html`<form method="post" action="/store/cart" class="row">
    ${csrfField(chrome)}
    <input type="hidden" name="productId" value="${product.id}">
    ${
      withQuantity
        ? html`<label class="row">Quantity <select name="quantity">${options.map((n) => html`<option>${n}</option>`)}</select></label>`
        : html`<input type="hidden" name="quantity" value="1">`
    }
    <button>Add to cart</button>
  </form>`
}

function productCard(product: Product, chrome: PageChrome): Html {
  return html`<li class="card">
    <h2><a href="/store/products/${product.id}">${product.name}</a></h2>
    <p><span class="price">${money(product.priceCents)}</span> · ${stockLabel(product)}</p>
    ${addToCartForm(product, chrome, false)}
  </li>`
}

/**
 * The catalog in HTML: `GET /store` lists products by name, 20 a page, with the search box's
 * `q` and a next-page link (`after`, a signed keyset cursor); `GET /store/products/:id` shows
 * one product, its add-to-cart form and what customers who bought it also bought.
 */
export async function catalogPages(
  server: FastifyInstance,
  options: CatalogPagesOptions,
): Promise<void> {
  const catalog = () => requestContext().resolve(PRODUCT_CATALOG)

  server.get(
    '/',
    page(async (request) => {
      const parsed = parseInput(listQuery, request.query)
      const { q, after } = parsed
      const result = await catalog().list(currentPrincipal(), {
        limit: 20,
        ...(q === '' ? {} : { q }),
        ...(after === undefined ? {} : { after }),
      })
      if (q !== '' && after === undefined) trackSearch(q)
      const chrome = await pageChrome(options, q)
      const next =
        result.nextCursor === null
          ? ''
          : html`<p class="pager"><a rel="next" href="/store?${new URLSearchParams({ ...(q === '' ? {} : { q }), after: result.nextCursor }).toString()}">Next page →</a></p>`
      const items =
        result.items.length === 0
          ? html`<p>No product matches “${q}”.</p>`
          : html`<ul class="grid">${result.items.map((product) => productCard(product, chrome))}</ul>`
      return layout(
        q === '' ? 'Products' : `Products matching “${q}”`,
        chrome,
        html`${items}${next}`,
      )
    }),
  )

  server.get(
    '/products/:id',
    page(async (request) => {
      const parsed = productParams.safeParse(request.params)
      // A malformed id names no product: the same 404 as a missing one.
      const product = await catalog().get(currentPrincipal(), parsed.success ? parsed.data.id : 0)
      trackProductView(product.id)
      const chrome = await pageChrome(options)
      const also =
        options.alsoBought === undefined
          ? []
          : await options.alsoBought(product.id, chrome.principal?.id)
      const recommendations =
        also.length === 0
          ? ''
          : html`<section><h2>Customers who bought this also bought</h2>
              <ul class="grid" id="also-bought">${also.map((other) => productCard(other, chrome))}</ul></section>`
      return layout(
        product.name,
        chrome,
        html`<div class="card">
          <p>${product.description}</p>
          <p><span class="price">${money(product.priceCents)}</span> · ${stockLabel(product)}</p>
          ${addToCartForm(product, chrome, true)}
        </div>
        ${recommendations}`,
      )
    }),
  )
}
