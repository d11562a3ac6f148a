import Fastify from 'fastify'
import { Hono } from 'hono'
import { mount } from 'hono/mount'
import { describe, expect, it } from 'vitest'
import { createApp } from '../app/create-app.js'
import { mountFetch } from '../http/fastify/mount-fetch.js'
import { useMortar } from '../http/hono/mortar-hono.js'
import { listRoutes } from './list-routes.js'

const ok = async () => 'ok'

describe('listRoutes', () => {
  it('reads every route of a Fastify server back, wildcards and parameters included', async () => {
    const fastify = Fastify()
    fastify.get('/', ok)
    fastify.get('/health', ok)
    fastify.post('/auth/login', ok)
    fastify.get('/auth/sessions', ok)
    fastify.delete('/auth/sessions/:device', ok)
    fastify.post('/cart/:sku/remove', ok)
    fastify.put('/files/*', ok)
    await mountFetch(fastify, '/pages', () => new Response('page'))
    await fastify.ready()
    const routes = listRoutes(fastify)
    expect(routes).toEqual(
      expect.arrayContaining([
        { method: 'GET', path: '/' },
        { method: 'POST', path: '/auth/login' },
        { method: 'DELETE', path: '/auth/sessions/:device' },
        { method: 'POST', path: '/cart/:sku/remove' },
        { method: 'PUT', path: '/files/*' },
        { method: 'POST', path: '/pages' },
        { method: 'PATCH', path: '/pages/*' },
      ]),
    )
    expect(routes.filter((route) => route.method === 'HEAD')).toEqual([])
    expect(routes).toHaveLength(4 + 1 + 1 + 1 + 6 + 6)
    await fastify.close()
  })

  it('reads the routes of a Hono app, without its middleware', () => {
    const hono = new Hono()
    useMortar(hono, createApp({ modules: [] }))
    const trips = new Hono()
    trips.get('/trips/:id', (c) => c.text('trip'))
    trips.post('/trips/:id/cancel', (c) => c.text('cancelled'))
    hono.route('/', trips)
    hono.all(
      '/pages/*',
      mount(() => new Response('page')),
    )
    expect(listRoutes(hono)).toEqual([
      { method: 'GET', path: '/trips/:id' },
      { method: 'POST', path: '/trips/:id/cancel' },
      ...['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((method) => ({
        method,
        path: '/pages/*',
      })),
    ])
  })
})
