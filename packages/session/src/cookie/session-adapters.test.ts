import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type App, createApp, requestContext } from '@mortar/core'
import { mortarErrorHandler, mortarExpress } from '@mortar/core/express'
import { useMortar } from '@mortar/core/hono'
import { withMortar } from '@mortar/core/node'
import express from 'express'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { session } from './session.js'
import { sessionModule } from './session-module.js'

declare module '@mortar/core' {
  interface Principal {
    id?: string
  }
}

type Send = (method: string, path: string, headers?: Record<string, string>) => Promise<Response>

const KEY = 'adapters-0123456789abcdef0123456789ab'
const sessions = sessionModule({
  password: KEY,
  schema: z.object({ visits: z.number().default(0) }),
  development: true,
  resolvePrincipal: (_data, { userId }) => (userId ? { id: userId } : undefined),
})

// The same three routes on every adapter: the session code never sees which one serves it.
async function route(method: string, path: string): Promise<unknown> {
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

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    })
  })
}

function overHttp(base: string): Send {
  return (method, path, headers) => fetch(`${base}${path}`, { method, headers })
}

const app: App = createApp({ modules: [sessions] })
const servers: Server[] = []
const adapters: [string, () => Promise<Send>][] = [
  [
    'hono',
    async () => {
      const hono = new Hono()
      useMortar(hono, app)
      hono.all('*', async (c) => c.json(await route(c.req.method, c.req.path)))
      return async (method, path, headers) =>
        hono.fetch(new Request(`http://localhost${path}`, { method, headers }))
    },
  ],
  [
    'node:http',
    async () => {
      const server = createServer(
        withMortar(app, async (request, response) => {
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
    expect(cookie).toMatch(/^mortar\.session=Fe26\.2\*1\*/)
    const visit = await send('POST', '/visit', { cookie, 'sec-fetch-site': 'same-origin' })
    expect(await visit.json()).toEqual({ visits: 1 })
    const me = await send('GET', '/me', { cookie: cookieOf(visit) })
    expect(await me.json()).toEqual({ principal: { id: 'user-1' }, visits: 1 })
  })

  it('refuses a cross-site unsafe request with a 403 problem', async () => {
    const cookie = cookieOf(await send('POST', '/login'))
    const response = await send('POST', '/visit', { cookie, 'sec-fetch-site': 'cross-site' })
    expect(response.status).toBe(403)
    expect(await response.json()).toMatchObject({ code: 'E_CSRF_REJECTED' })
  })
})
