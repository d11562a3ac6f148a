import type { FastifyInstance } from 'fastify'
import { type AccountPagesOptions, accountPages } from './account-pages.js'
import { assetRoutes } from './assets/asset-routes.js'
import { type CartPagesOptions, cartPages } from './cart-pages.js'
import { type CatalogPagesOptions, catalogPages } from './catalog-pages.js'
import { checkoutPages } from './checkout-pages.js'
import { htmlErrorPages } from './error-pages.js'
import { acceptForms } from './form-support.js'
import { notificationPages } from './notification-pages.js'
import { orderPages } from './order-pages.js'

/** Everything the storefront's pages take: the session, and what other modules add to them. */
export interface StorefrontRoutesOptions
  extends CatalogPagesOptions,
    CartPagesOptions,
    AccountPagesOptions {}

/**
 * The storefront: server-rendered HTML pages with plain forms (no front-end build), registered
 * under a prefix (`/store`). Forms are posted `application/x-www-form-urlencoded` and carry the
 * session's CSRF token in `_csrf`, for an app that accepts form tokens from browsers sending
 * neither `Origin` nor `Sec-Fetch-Site` (see `acceptForms`).
 */
export async function storefrontRoutes(
  server: FastifyInstance,
  options: StorefrontRoutesOptions,
): Promise<void> {
  acceptForms(server)
  // Fastify hands this plugin its own `prefix` among the options: the pages must not get it again.
  const { prefix: _prefix, ...pages } = options as StorefrontRoutesOptions & { prefix?: string }
  htmlErrorPages(server, pages)
  await server.register(assetRoutes)
  await server.register(catalogPages, pages)
  await server.register(cartPages, pages)
  await server.register(accountPages, pages)
  await server.register(checkoutPages, pages)
  await server.register(orderPages, pages)
  await server.register(notificationPages, pages)
}
