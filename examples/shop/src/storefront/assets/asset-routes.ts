import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { STOREFRONT_CSS } from './storefront-css.js'
import { STOREFRONT_SCRIPT } from './storefront-script.js'

interface Asset {
  readonly type: string
  readonly body: string
  readonly etag: string
}

function asset(type: string, body: string): Asset {
  return {
    type,
    body,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`,
  }
}

/**
 * `GET /assets/shop.css` and `GET /assets/shop.js` (under the storefront's prefix): the
 * storefront's stylesheet and script, revalidated by ETag.
 */
export async function assetRoutes(server: FastifyInstance): Promise<void> {
  const assets: Record<string, Asset> = {
    'shop.css': asset('text/css; charset=utf-8', STOREFRONT_CSS),
    'shop.js': asset('text/javascript; charset=utf-8', STOREFRONT_SCRIPT),
  }
  for (const [name, { type, body, etag }] of Object.entries(assets)) {
    server.get(`/assets/${name}`, async (request, reply) => {
      reply.header('etag', etag).header('cache-control', 'public, max-age=300')
      if (request.headers['if-none-match'] === etag) return reply.code(304).send()
      return reply.type(type).send(body)
    })
  }
}
