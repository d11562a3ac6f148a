import { integerId, requestContext, safeText, ValidationError } from '@mortar/core'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { currentPrincipal } from '../accounts/index.js'
import { trackProductView, trackSearch } from '../tracking/index.js'
import { PRODUCT_CATALOG } from './product-catalog.js'

const listQuery = z.object({
  after: z.string().max(4096).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  q: safeText({ max: 100 }).trim().optional(),
})

const productParams = z.object({ id: integerId() })

/**
 * `GET /products?after=&limit=&q=`: products by name, 20 a page (at most 100), `q` searching the
 * name; answers `{ items, nextCursor }`. `GET /products/:id`: one product, or a 404 problem.
 */
export async function catalogRoutes(server: FastifyInstance): Promise<void> {
  server.get('/products', async (request) => {
    const parsed = listQuery.safeParse(request.query)
    if (!parsed.success) throw ValidationError.fromZod(parsed.error)
    const { after, limit, q } = parsed.data
    const page = await requestContext()
      .resolve(PRODUCT_CATALOG)
      .list(currentPrincipal(), {
        limit,
        ...(after === undefined ? {} : { after }),
        ...(q === undefined ? {} : { q }),
      })
    if (q !== undefined && q !== '' && after === undefined) trackSearch(q)
    return page
  })

  server.get('/products/:id', async (request) => {
    const parsed = productParams.safeParse(request.params)
    // A malformed id names no product: the same 404 as a missing one.
    const id = parsed.success ? parsed.data.id : 0
    const product = await requestContext().resolve(PRODUCT_CATALOG).get(currentPrincipal(), id)
    trackProductView(product.id)
    return product
  })
}
