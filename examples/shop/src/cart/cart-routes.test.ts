import 'reflect-metadata'
import { loginThrottleModule } from '@mortar/auth'
import { createApp } from '@mortar/core'
import { mortarFastify } from '@mortar/core/fastify'
import { databaseSessionRegistry } from '@mortar/session'
import Fastify, { type FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { accountRoutes, accountsModule, shopSessionModule } from '../accounts/index.js'
import { loadShopConfig } from '../config.js'
import { CookieJar } from '../testing/cookie-jar.js'
import { shopTrackingModules } from '../tracking/index.js'
import { MAX_PRODUCT_ID } from './cart.js'
import { cartRoutes } from './cart-routes.js'

// Products the stub catalog knows: the small ids, and the largest ones (to fill a cart to its
// worst-case cookie size).
const knownProduct = async (id: number) => id < 1_000 || id > MAX_PRODUCT_ID - 100

// The cart lives in the session cookie, so SQLite is enough (the accounts suite covers the
// session registry on every engine); the shop's own catalog is stubbed, so any seed works.
describe('the cart over HTTP', () => {
  let server: FastifyInstance
  let base = ''
  const browser = () => new CookieJar({ base })

  beforeAll(async () => {
    const config = loadShopConfig({ NODE_ENV: 'test', DATABASE_URL: 'sqlite::memory:' })
    const sessions = shopSessionModule({ password: config.sessionPassword, registry: 'database' })
    const app = createApp({
      database: config.databaseUrl,
      modules: [
        databaseSessionRegistry(),
        loginThrottleModule({ store: 'memory' }),
        sessions,
        accountsModule({ passwordCost: { logN: 10 } }),
        // The routes track additions to the cart and link visitors to accounts.
        ...shopTrackingModules(),
      ],
    })
    await app.migrate()
    await app.start()
    server = Fastify()
    await server.register(mortarFastify, { app })
    await server.register(accountRoutes, { session: sessions.current })
    await server.register(cartRoutes, { session: sessions.current, productExists: knownProduct })
    server.addHook('onClose', async () => {
      await app.stop()
    })
    base = await server.listen({ port: 0, host: '127.0.0.1' })
  })

  afterAll(async () => {
    await server?.close()
  })

  it('keeps an anonymous visitor’s cart across requests, and only theirs', async () => {
    const visitor = browser()
    expect((await visitor.request('GET', '/cart')).json).toEqual({ items: [] })
    const added = await visitor.request('POST', '/cart', { productId: 12, quantity: 2 })
    expect(added.status).toBe(201)
    await visitor.request('POST', '/cart', { productId: 30 })
    await visitor.request('POST', '/cart', { productId: 12, quantity: 1 })
    expect((await visitor.request('GET', '/cart')).json).toEqual({
      items: [
        { productId: 12, quantity: 3 },
        { productId: 30, quantity: 1 },
      ],
    })
    expect((await browser().request('GET', '/cart')).json).toEqual({ items: [] })
  })

  it('keeps the cart through sign-up and login, and empties it at logout', async () => {
    const visitor = browser()
    await visitor.request('POST', '/cart', { productId: 5, quantity: 4 })
    const email = `cart-${Date.now()}@example.com`
    const signup = await visitor.request('POST', '/auth/signup', {
      email,
      password: 'correct horse battery',
    })
    expect(signup.status).toBe(201)
    expect((await visitor.request('GET', '/cart')).json).toEqual({
      items: [{ productId: 5, quantity: 4 }],
    })
    await visitor.request('POST', '/cart', { productId: 6 })
    expect((await visitor.request('GET', '/cart')).json.items).toHaveLength(2)

    await visitor.request('POST', '/auth/logout')
    expect((await visitor.request('GET', '/cart')).json).toEqual({ items: [] })
  })

  it('removes one product and empties the cart', async () => {
    const visitor = browser()
    await visitor.request('POST', '/cart', { productId: 1 })
    await visitor.request('POST', '/cart', { productId: 2 })
    const removed = await visitor.request('DELETE', '/cart/1')
    expect(removed.json).toEqual({ items: [{ productId: 2, quantity: 1 }] })
    const missing = await visitor.request('DELETE', '/cart/1')
    expect(missing.status).toBe(404)
    expect(missing.json).toMatchObject({ code: 'E_NOT_FOUND' })
    expect((await visitor.request('DELETE', '/cart')).json).toEqual({ items: [] })
    expect((await visitor.request('GET', '/cart')).json).toEqual({ items: [] })
  })

  it('refuses a malformed line with a 422 problem and leaves the cart as it was', async () => {
    const visitor = browser()
    await visitor.request('POST', '/cart', { productId: 3 })
    for (const body of [
      { productId: -1 },
      { productId: 1.5 },
      { productId: '3' },
      { productId: 3, quantity: 0 },
      { productId: 3, quantity: 100 },
      { productId: MAX_PRODUCT_ID + 1 },
      {},
    ]) {
      const response = await visitor.request('POST', '/cart', body)
      expect(response.status).toBe(422)
      expect(response.json).toMatchObject({ code: 'E_VALIDATION' })
    }
    expect((await visitor.request('GET', '/cart')).json).toEqual({
      items: [{ productId: 3, quantity: 1 }],
    })
  })

  it('refuses a product the catalog does not know with a 422 problem', async () => {
    const visitor = browser()
    const unknown = await visitor.request('POST', '/cart', { productId: 5_000 })
    expect(unknown.status).toBe(422)
    expect(unknown.json).toMatchObject({
      code: 'E_VALIDATION',
      errors: [{ path: 'productId', code: 'unknown_product' }],
    })
    expect((await visitor.request('GET', '/cart')).json).toEqual({ items: [] })
  })

  it('refuses more than 99 of one product with E_CART_QUANTITY, keeping the line as it was', async () => {
    const visitor = browser()
    expect((await visitor.request('POST', '/cart', { productId: 4, quantity: 98 })).status).toBe(
      201,
    )
    const over = await visitor.request('POST', '/cart', { productId: 4, quantity: 2 })
    expect(over.status).toBe(422)
    expect(over.json).toMatchObject({ code: 'E_CART_QUANTITY' })
    expect((await visitor.request('GET', '/cart')).json).toEqual({
      items: [{ productId: 4, quantity: 98 }],
    })
  })

  it('refuses a 51st product with E_CART_FULL', async () => {
    const visitor = browser()
    // The largest ids and quantities: a full cart still fits the 4 KB cookie.
    for (let line = 1; line <= 50; line += 1) {
      const productId = MAX_PRODUCT_ID - line
      expect((await visitor.request('POST', '/cart', { productId, quantity: 99 })).status).toBe(201)
    }
    const full = await visitor.request('POST', '/cart', { productId: 51 })
    expect(full.status).toBe(422)
    expect(full.json).toMatchObject({ code: 'E_CART_FULL' })
    expect((await visitor.request('GET', '/cart')).json.items).toHaveLength(50)
  })
})
