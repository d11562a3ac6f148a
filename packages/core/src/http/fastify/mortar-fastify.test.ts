import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { adapterConformance, BODY_LIMIT } from '../shared/adapter-conformance.js'
import { mortarFastify } from './mortar-fastify.js'

adapterConformance('fastify', async ({ app, routes }) => {
  const fastify = Fastify({ bodyLimit: BODY_LIMIT })
  await fastify.register(mortarFastify, { app })
  for (const route of routes) {
    fastify.route({
      method: route.method,
      url: route.path,
      handler: async (request) =>
        route.handle({
          query: new URL(request.url, 'http://localhost').searchParams,
          body: request.body,
        }),
    })
  }
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  const address = fastify.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { url: `http://127.0.0.1:${address.port}`, close: () => fastify.close() }
})

describe('mortarFastify', () => {
  it('is not encapsulated, so its hooks cover routes registered beside it', () => {
    const plugin = mortarFastify as unknown as Record<symbol, unknown>
    expect(plugin[Symbol.for('skip-override')]).toBe(true)
    expect(plugin[Symbol.for('fastify.display-name')]).toBe('mortar')
  })

  it('renders a Fastify content-type error as a 415 problem', async () => {
    const fastify = Fastify()
    const logger = { error: () => undefined } as never
    await fastify.register(mortarFastify, {
      app: {
        logger,
        createScope: () => {
          throw new Error()
        },
      },
    })
    fastify.post('/', async (request) => request.body)
    const response = await fastify.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-unknown' },
      payload: 'x',
    })
    expect(response.statusCode).toBe(415)
    expect(response.headers['content-type']).toMatch(/problem\+json/)
    expect(response.json()).toMatchObject({ code: 'E_UNSUPPORTED_MEDIA_TYPE' })
    await fastify.close()
  })

  it('refuses to register without an app', async () => {
    const fastify = Fastify()
    await expect(fastify.register(mortarFastify, {} as never)).rejects.toThrow(/needs \{ app \}/)
  })
})
