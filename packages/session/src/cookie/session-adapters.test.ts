import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type App, createApp, type FetchHandler, requestContext } from '@mortar/core'
import { mortarErrorHandler, mortarExpress, toNodeHandler } from '@mortar/core/express'
import { mortarFastify, mountFetch } from '@mortar/core/fastify'
import { useMortar } from '@mortar/core/hono'
import { withMortar, toNodeHandler as toNodeListener } from '@mortar/core/node'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { mount } from 'hono/mount'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { session } from './session.js'
import { sessionModule } from './session-module.js'

declare module '@mortar/core' {
  interface Principal {
    id?: string
  }
}

type Send = (
  method: string,
  path: string,
  headers?: Record<string, string>,
  body?: string,
) => Promise<Response>

const KEY = 'adapters-0123456789abcdef0123456789ab'
const sessions = sessionModule({
  cookieName: 'test.session',
  password: KEY,
  schema: z.object({ visits: z.number().default(0) }),
  development: true,
  resolvePrincipal: (_data, { userId }) => (userId ? { id: userId } : undefined),
})

// The same three routes on every adapter: the session code never sees which one serves it.
async function route(method: string, path: string): Promise<unknown> {
  calls += 1
  if (method === 'POST' && path === '/login') {
    await session().login('user-1')
    return { ok: true }
  }
  if (method === 'POST' && path === '/visit') {
    const current = session()
    current.data.visits = Number(current.data.visits ?? 0) + 1
    await current.save()
    return { visits: current.data.visits }
  }
  return {
    principal: requestContext().get('principal') ?? null,
    visits: session().data.visits ?? 0,
  }
}

// Handler calls, to check that a refused request reached none.
let calls = 0

// The same page mounted on every adapter under /pages: a package's page sees the same session.
const page: FetchHandler = async (request) => {
  calls += 1
  const current = session()
  if (request.method === 'POST') {
    current.data.visits = Number(current.data.visits ?? 0) + 1
    await current.save()
  }
  return Response.json({
    path: new URL(request.url).pathname,
    principal: requestContext().get('principal') ?? null,
    visits: current.data.visits ?? 0,
  })
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    })
  })
}

function overHttp(base: string): Send {
  return (method, path, headers, body) => fetch(`${base}${path}`, { method, headers, body })
}

const app: App = createApp({ modules: [sessions] })
const servers: Server[] = []
const adapters: [string, () => Promise<Send>][] = [
  [
    'fastify',
    async () => {
      const fastify = Fastify()
      await fastify.register(mortarFastify, { app })
      await mountFetch(fastify, '/pages', page)
      // Bodies of any type, so a forged form reaches the CSRF guard and not a 415.
      fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
        done(null, body)
      })
      fastify.all('/*', async (request) => route(request.method, request.url))
      await fastify.listen({ port: 0, host: '127.0.0.1' })
      servers.push(fastify.server)
      const address = fastify.server.address() as AddressInfo
      return overHttp(`http://127.0.0.1:${address.port}`)
    },
  ],
  [
    'hono',
    async () => {
      const hono = new Hono()
      useMortar(hono, app)
      hono.all('/pages/*', mount(page))
      hono.all('*', async (c) => c.json(await route(c.req.method, c.req.path)))
      return async (method, path, headers, body) =>
        hono.fetch(new Request(`http://localhost${path}`, { method, headers, body }))
    },
  ],
  [
    'node:http',
    async () => {
      const pages = toNodeListener(page, { prefix: '/pages' })
      const server = createServer(
        withMortar(app, async (request, response) => {
          if (request.url?.startsWith('/pages')) return pages(request, response)
          const body = await route(request.method ?? 'GET', request.url ?? '/')
          response.setHeader('content-type', 'application/json')
          response.end(JSON.stringify(body))
        }),
      )
      servers.push(server)
      return overHttp(await listen(server))
    },
  ],
  [
    'express',
    async () => {
      const server = express()
      server.use(mortarExpress(app))
      server.use('/pages', toNodeHandler(page))
      server.use(async (request, response, next) => {
        try {
          response.json(await route(request.method, request.path))
        } catch (error) {
          next(error)
        }
      })
      server.use(mortarErrorHandler())
      const http = createServer(server)
      servers.push(http)
      return overHttp(await listen(http))
    },
  ],
]

beforeAll(async () => {
  await app.start()
})

afterAll(async () => {
  await Promise.all(
    servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  )
  await app.stop()
})

function cookieOf(response: Response): string {
  return (response.headers.getSetCookie().at(-1) ?? '').split(';')[0] ?? ''
}

describe.each(adapters)('sessions under %s', (_name, make) => {
  let send: Send

  beforeAll(async () => {
    send = await make()
  })

  it('logs in, reads the principal and saves data through the same session code', async () => {
    const login = await send('POST', '/login')
    const cookie = cookieOf(login)
    expect(cookie).toMatch(/^test\.session=Fe26\.2\*1\*/)
    expect(login.headers.getSetCookie()).toHaveLength(1)
    const visit = await send('POST', '/visit', { cookie, 'sec-fetch-site': 'same-origin' })
    expect(await visit.json()).toEqual({ visits: 1 })
    const me = await send('GET', '/me', { cookie: cookieOf(visit) })
    expect(await me.json()).toEqual({ principal: { id: 'user-1' }, visits: 1 })
  })

  it('serves a mounted page with the same session and principal', async () => {
    const cookie = cookieOf(await send('POST', '/login'))
    const visit = await send('POST', '/pages/count', { cookie, 'sec-fetch-site': 'same-origin' })
    expect(await visit.json()).toEqual({
      path: '/count',
      principal: { id: 'user-1' },
      visits: 1,
    })
    expect(visit.headers.getSetCookie()).toHaveLength(1)
    const again = await send('GET', '/pages', { cookie: cookieOf(visit) })
    expect(await again.json()).toMatchObject({ path: '/', visits: 1 })
  })

  it('refuses a forged unsafe request to a route or a mounted page before either runs, whatever its content type', async () => {
    const cookie = cookieOf(await send('POST', '/login'))
    for (const path of ['/visit', '/pages/count']) {
      for (const type of [
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        undefined,
      ]) {
        const before = calls
        const headers: Record<string, string> = { cookie }
        if (type !== undefined) headers['content-type'] = type
        const response = await send('POST', path, headers, 'visits=99')
        expect(response.status, `${path} ${type}`).toBe(403)
        expect(await response.json()).toMatchObject({
          code: 'E_CSRF_REJECTED',
          reason: 'missing-token',
        })
        expect(response.headers.getSetCookie()).toEqual([])
        expect(calls).toBe(before)
      }
    }
  })

  it('refuses a cross-site unsafe request with a 403 problem', async () => {
    const cookie = cookieOf(await send('POST', '/login'))
    const response = await send('POST', '/visit', { cookie, 'sec-fetch-site': 'cross-site' })
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ code: 'E_CSRF_REJECTED' })
  })
})
