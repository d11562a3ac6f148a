import Fastify from 'fastify'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { listRoutes } from './list-routes.js'

describe('listRoutes', () => {
  it('lists every Fastify route with its full path, without the HEAD routes Fastify adds', async () => {
    const server = Fastify()
    const ok = async () => ({ ok: true })
    server.get('/health', ok)
    server.get('/products', ok)
    server.get('/products/:id', ok)
    server.post('/cart', ok)
    server.delete('/cart', ok)
    server.delete('/cart/:productId', ok)
    server.post('/auth/logout', ok)
    server.post('/auth/logout-everywhere', ok)
    await server.register(
      async (scoped) => {
        scoped.put('/items/:id/tags/:tag', ok)
      },
      { prefix: '/admin' },
    )
    await server.ready()
    const routes = listRoutes(server).map((route) => `${route.method} ${route.path}`)
    expect(routes.sort()).toEqual(
      [
        'GET /health',
        'GET /products',
        'GET /products/:id',
        'POST /cart',
        'DELETE /cart',
        'DELETE /cart/:productId',
        'POST /auth/logout',
        'POST /auth/logout-everywhere',
        'PUT /admin/items/:id/tags/:tag',
      ].sort(),
    )
    await server.close()
  })

  it('lists every Hono route, sub-apps included, without middleware entries', () => {
    const hono = new Hono()
    hono.use('*', async (_c, next) => next())
    const trips = new Hono()
    trips.get('/trips/:id', (c) => c.text('trip'))
    trips.post('/trips/:id/cancel', (c) => c.text('cancelled'))
    hono.post('/login', (c) => c.text('in'))
    hono.route('/', trips)
    const routes = listRoutes(hono).map((route) => `${route.method} ${route.path}`)
    expect(routes.sort()).toEqual(['GET /trips/:id', 'POST /login', 'POST /trips/:id/cancel'])
  })
})
