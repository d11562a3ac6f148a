import { describe, expect, it } from 'vitest'
import { loadShopConfig } from './config.js'
import { buildShop } from './server.js'

describe('shop server', () => {
  it('answers GET /health over HTTP and echoes a request id', async () => {
    const { server } = await buildShop(
      loadShopConfig({ NODE_ENV: 'test', DATABASE_URL: 'sqlite::memory:' }),
    )
    try {
      const address = await server.listen({ port: 0, host: '127.0.0.1' })
      const response = await fetch(`${address}/health`, { headers: { 'x-request-id': 'probe-1' } })
      expect(response.status).toBe(200)
      expect(response.headers.get('x-request-id')).toBe('probe-1')
      expect(await response.json()).toEqual({ status: 'ok' })
    } finally {
      await server.close()
    }
  })

  it('answers an unknown route with a 404 problem', async () => {
    const { server } = await buildShop(
      loadShopConfig({ NODE_ENV: 'test', DATABASE_URL: 'sqlite::memory:' }),
    )
    try {
      const address = await server.listen({ port: 0, host: '127.0.0.1' })
      const response = await fetch(`${address}/nope`)
      expect(response.status).toBe(404)
      expect(response.headers.get('content-type')).toContain('application/problem+json')
      expect(await response.json()).toMatchObject({ status: 404, code: 'E_NOT_FOUND' })
    } finally {
      await server.close()
    }
  })
})
