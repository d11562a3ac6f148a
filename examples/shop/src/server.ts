import 'reflect-metadata'
import { type App, createApp } from '@mortar/core'
import { mortarFastify } from '@mortar/core/fastify'
import Fastify, { type FastifyInstance } from 'fastify'
import type { ShopConfig } from './config.js'
import { healthRoutes } from './health/health-routes.js'

/** The shop: a Mortar app and the Fastify server in front of it. */
export interface Shop {
  readonly app: App<ShopConfig>
  readonly server: FastifyInstance
}

/** Builds and starts the shop without listening, so tests can listen on any port. */
export async function buildShop(config: ShopConfig): Promise<Shop> {
  const app = createApp({ modules: [], config })
  await app.start()
  const server = Fastify()
  await server.register(mortarFastify, { app })
  await server.register(healthRoutes)
  // The server closes first so no request runs against a stopped app.
  server.addHook('onClose', async () => {
    await app.stop()
  })
  return { app, server }
}
