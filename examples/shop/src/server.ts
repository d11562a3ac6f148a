import 'reflect-metadata'
import { loginThrottleModule } from '@mortar/auth'
import { type App, createApp } from '@mortar/core'
import { mortarFastify } from '@mortar/core/fastify'
import { databaseSessionRegistry } from '@mortar/session'
import Fastify, { type FastifyInstance } from 'fastify'
import { shopAccessModule } from './access/index.js'
import { adminPages } from './admin/index.js'
import { accountRoutes, accountsModule, shopSessionModule } from './accounts/index.js'
import { cartRoutes } from './cart/index.js'
import { catalogModule, catalogRoutes, PRODUCT_CATALOG } from './catalog/index.js'
import type { ShopConfig } from './config.js'
import { healthRoutes } from './health/health-routes.js'
import { orderRoutes, ordersModule } from './orders/index.js'
import { paymentRoutes, paymentsModule } from './payments/index.js'
import { vaultKeyRing } from './secrets/index.js'
import { storefrontRoutes } from './storefront/index.js'

/** The shop: a Mortar app and the Fastify server in front of it. */
export interface Shop {
  readonly app: App<ShopConfig>
  readonly server: FastifyInstance
}

/**
 * Builds the shop, migrates its database and starts the app without listening, so tests can
 * listen on any port.
 */
export async function buildShop(config: ShopConfig): Promise<Shop> {
  const sessions = shopSessionModule({ password: config.sessionPassword })
  const app = createApp({
    config,
    database: config.databaseUrl,
    modules: [
      databaseSessionRegistry(),
      sessions,
      // Failed logins are counted in the database: 5 per account in 15 minutes, then a lockout.
      loginThrottleModule({ store: 'database' }),
      accountsModule({
        passwordCost: { logN: config.passwordHashLogN },
        admin: { email: config.adminEmail, password: config.adminPassword.reveal() },
      }),
      paymentsModule({ vaultKeys: vaultKeyRing(config.vaultKeys) }),
      // The products table, seeded with 10,000 demo products when empty; GET /products.
      catalogModule({ paginationKey: config.paginationKey }),
      // Who may read which order and enter the admin pages: one policy, src/access.
      shopAccessModule(),
      ordersModule(),
    ],
  })
  await app.migrate()
  await app.start()
  const server = Fastify()
  await server.register(mortarFastify, { app })
  await server.register(healthRoutes)
  await server.register(accountRoutes, { session: sessions.current })
  await server.register(catalogRoutes)
  const catalog = app.resolve(PRODUCT_CATALOG)
  await server.register(cartRoutes, {
    session: sessions.current,
    productExists: (productId) => catalog.exists(productId),
  })
  await server.register(paymentRoutes, { session: sessions.current })
  await server.register(orderRoutes, { session: sessions.current })
  // The storefront: HTML pages for people, beside the JSON API above.
  await server.register(storefrontRoutes, {
    prefix: '/store',
    session: sessions.current,
    productExists: (productId) => catalog.exists(productId),
  })
  await server.register(adminPages, { prefix: '/admin', session: sessions.current })
  server.get('/', (_request, reply) => reply.redirect('/store'))
  // The server closes first so no request runs against a stopped app.
  server.addHook('onClose', async () => {
    await app.stop()
  })
  return { app, server }
}
