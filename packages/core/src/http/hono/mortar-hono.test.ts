import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { setImmediate } from 'node:timers/promises'
import { type ServerType, serve } from '@hono/node-server'
import { Hono } from 'hono'
import { bearerAuth } from 'hono/bearer-auth'
import { HTTPException } from 'hono/http-exception'
import { mount } from 'hono/mount'
import { describe, expect, it, vi } from 'vitest'
import { requestContext } from '../../context/index.js'
import { token } from '../../di/token.js'
import type { Logger } from '../../logger/logger.js'
import {
  adapterConformance,
  appWithScopedService,
  EVENTS,
  EVENTS_OPENING,
  type ScopedService,
  STREAMED,
} from '../shared/adapter-conformance.js'
import { answerClientErrors } from '../shared/index.js'
import { mortarHono, useMortar } from './mortar-hono.js'

function listen(
  hono: Hono,
  prepare: (server: ServerType) => void = () => undefined,
): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((resolve) => {
    const server = serve(
      { fetch: hono.fetch, port: 0, hostname: '127.0.0.1' },
      (info: AddressInfo) => {
        resolve({
          url: `http://127.0.0.1:${info.port}`,
          close: () =>
            new Promise<void>((done, fail) =>
              server.close((error) => (error ? fail(error) : done())),
            ),
        })
      },
    )
    prepare(server)
  })
}

// A body of string chunks as the byte stream a Response sends, each chunk read when pulled.
function byteStream(chunks: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]()
  const encoder = new TextEncoder()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next()
      if (next.done) controller.close()
      else controller.enqueue(encoder.encode(next.value))
    },
  })
}

adapterConformance('hono', async (setup) => {
  const { app, routes, mount: mounted, bodyLimit, scopeGraceMs, middleware, streamed } = setup
  const hono = new Hono()
  useMortar(hono, app, { bodyLimit, scopeGraceMs })
  hono.use(async (_c, next) => {
    await middleware()
    await next()
  })
  hono.all(`${mounted.prefix}/*`, mount(mounted.handler))
  hono.get(EVENTS, (c) =>
    c.body(
      new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(new TextEncoder().encode(EVENTS_OPENING)),
      }),
      200,
      { 'content-type': 'text/event-stream' },
    ),
  )
  hono.get(STREAMED, (c) => c.body(byteStream(streamed())))
  for (const route of routes) {
    if (route.method === 'GET') {
      hono.get(route.path, async (c) =>
        c.json(
          await route.handle({
            query: new URL(c.req.url).searchParams,
            frameworkQuery: () => c.req.query(),
            params: c.req.param(),
            body: undefined,
          }),
        ),
      )
    } else {
      hono.post(route.path, async (c) =>
        c.json(
          await route.handle({
            query: new URL(c.req.url).searchParams,
            frameworkQuery: () => c.req.query(),
            params: c.req.param(),
            body: await c.req.json(),
          }),
        ),
      )
    }
  }
  return listen(hono, answerClientErrors)
})

const quietApp = {
  logger: { error: () => undefined } as unknown as Logger,
  createScope: () => {
    throw new Error('no scope in this test')
  },
}

describe('useMortar', () => {
  // c.req.query(key) and c.req.query() gave the first of a repeated key's values.
  it('answers a repeated key read through c.req.query(key) with a 400 problem, and keeps c.req.queries() whole', async () => {
    const hono = new Hono()
    useMortar(hono, quietApp)
    hono.get('/one', (c) => c.json({ limit: c.req.query('limit') ?? null }))
    hono.get('/all', (c) => c.json({ tags: c.req.queries('tag') ?? null, all: c.req.queries() }))
    const repeated = await hono.request('/one?limit=1&limit=500')
    expect(repeated.status).toBe(400)
    expect(await repeated.json()).toMatchObject({
      code: 'E_BAD_REQUEST',
      detail: expect.stringContaining('"limit" is given 2 times'),
    })
    expect(await (await hono.request('/one?limit=5&other=1&other=2')).json()).toEqual({
      limit: '5',
    })
    expect(await (await hono.request('/one')).json()).toEqual({ limit: null })
    expect(await (await hono.request('/all?tag=a&tag=b&x=1')).json()).toEqual({
      tags: ['a', 'b'],
      all: { tag: ['a', 'b'], x: ['1'] },
    })
  })

  it('keeps the scope of a streamed body served without @hono/node-server until the body is read', async () => {
    const events: string[] = []
    const app = {
      logger: { error: () => undefined } as unknown as Logger,
      createScope: () => ({
        resolve: <T>() => {
          events.push('resolved')
          return 'scoped' as T
        },
        dispose: async () => {
          events.push('disposed')
        },
      }),
    }
    const hono = new Hono()
    useMortar(hono, app)
    hono.get('/', (c) => {
      const context = requestContext()
      let sent = false
      return c.body(
        new ReadableStream<Uint8Array>(
          {
            pull(controller) {
              if (sent) return controller.close()
              sent = true
              controller.enqueue(new TextEncoder().encode(String(context.resolve(token('any')))))
            },
            // Nothing is pulled until the body is read, after the handler has returned.
          },
          { highWaterMark: 0 },
        ),
      )
    })
    const response = await hono.request('/')
    expect(await response.text()).toBe('scoped')
    await vi.waitFor(() => expect(events).toEqual(['resolved', 'disposed']))
  })

  // Hono's counterpart of a Fastify onSend hook or an Express middleware after the route: code
  // after `await next()` in a middleware of the app's own, its client gone meanwhile. Mortar's
  // middleware awaits the rest of the chain, so the scope stays until that code is done.
  it('keeps the scope through middleware code after next() whose client left, and disposes it after', async () => {
    const { app, SERVICE } = appWithScopedService()
    await app.start()
    let started!: (held: ScopedService) => void
    const holding = new Promise<ScopedService>((resolve) => {
      started = resolve
    })
    let seen!: (seen: { disposedUnderWork: boolean; sameScope: boolean }) => void
    const after = new Promise<{ disposedUnderWork: boolean; sameScope: boolean }>((resolve) => {
      seen = resolve
    })
    const hono = new Hono()
    hono.use(mortarHono(app))
    hono.use(async (c, next) => {
      await next()
      const context = requestContext()
      const held = context.resolve(SERVICE)
      started(held)
      if (!c.req.raw.signal.aborted) await once(c.req.raw.signal, 'abort')
      await setImmediate()
      let sameScope = false
      try {
        sameScope = context.resolve(SERVICE) === held
      } catch {
        // Resolved after the request ended: not the same scope.
      }
      seen({ disposedUnderWork: held.disposed, sameScope })
    })
    hono.get('/', (c) => {
      requestContext().resolve(SERVICE)
      return c.json({ ok: true })
    })
    const server = await listen(hono)
    try {
      const client = new AbortController()
      const request = fetch(`${server.url}/`, { signal: client.signal })
      const held = await holding
      client.abort()
      await request.catch(() => undefined)
      expect(await after).toEqual({ disposedUnderWork: false, sameScope: true })
      await vi.waitFor(() => expect(held.disposed).toBe(true))
    } finally {
      await server.close()
      await app.stop()
    }
  })

  it('keeps the status and message of an HTTPException and its prepared headers', async () => {
    const hono = new Hono()
    useMortar(hono, quietApp)
    hono.get('/teapot', () => {
      throw new HTTPException(418, { message: 'I am a teapot.' })
    })
    hono.get('/private', bearerAuth({ token: 'secret-token' }), (c) => c.text('ok'))
    const server = await listen(hono)
    try {
      const teapot = await fetch(`${server.url}/teapot`)
      expect(teapot.status).toBe(418)
      expect(teapot.headers.get('content-type')).toBe('application/problem+json')
      expect(await teapot.json()).toMatchObject({ code: 'E_HTTP_418', detail: 'I am a teapot.' })
      const denied = await fetch(`${server.url}/private`)
      expect(denied.status).toBe(401)
      expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer/)
      expect(await denied.json()).toMatchObject({ code: 'E_UNAUTHORIZED' })
    } finally {
      await server.close()
    }
  })

  it('limits a streamed body that declares no length and no transfer-encoding (HTTP/2, fetch runtimes)', async () => {
    // Before, only a body sent with transfer-encoding was counted: one that came over HTTP/2, or
    // through a runtime whose Request carries no such header, was read whole, past any limit.
    const hono = new Hono()
    useMortar(hono, quietApp, { bodyLimit: 1024 })
    let read: number | undefined
    hono.post('/echo', async (c) => {
      read = (await c.req.text()).length
      return c.text('ok')
    })
    let chunks = 64
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (chunks-- === 0) return controller.close()
        controller.enqueue(new Uint8Array(1024).fill(120))
      },
    })
    const response = await hono.request('/echo', {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit)
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ code: 'E_PAYLOAD_TOO_LARGE' })
    expect(read).toBeUndefined()
    const lying = await hono.request('/echo', {
      method: 'POST',
      headers: { 'content-length': 'soon' },
      body: 'x'.repeat(4096),
    })
    expect(lying.status).toBe(413)
    expect(read).toBeUndefined()
    const small = await hono.request('/echo', { method: 'POST', body: 'x'.repeat(1024) })
    expect([small.status, read]).toEqual([200, 1024])
  })

  it('lets go of a body of no declared length the handler left unread or half read, once the response is over (fetch runtimes)', async () => {
    // The adapter holds the body's reader to count it: left locked, the runtime could neither
    // drain nor cancel it, and an endless upload kept its connection and its source for good.
    const hono = new Hono()
    useMortar(hono, quietApp, { bodyLimit: 1024 })
    hono.post('/ignore', (c) => c.text('ignored'))
    hono.post('/peek', async (c) => {
      const reader = c.req.raw.body?.getReader()
      const first = await reader?.read()
      return c.text(String(first?.value?.byteLength))
    })
    // A streamed echo reads the body after the handler returned: it must still get all of it.
    hono.post('/echo', (c) => new Response(c.req.raw.body))
    const endless = () => {
      const source = { cancelled: false, pulled: 0 }
      const body = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            source.pulled += 1
            controller.enqueue(new Uint8Array(16).fill(120))
          },
          cancel() {
            source.cancelled = true
          },
        },
        { highWaterMark: 0 },
      )
      return { source, body }
    }
    for (const [path, text] of [
      ['/ignore', 'ignored'],
      ['/peek', '16'],
    ] as const) {
      const { source, body } = endless()
      const response = await hono.request(path, {
        method: 'POST',
        body,
        duplex: 'half',
      } as RequestInit)
      expect([response.status, await response.text()]).toEqual([200, text])
      await vi.waitFor(() => expect(source.cancelled).toBe(true))
      expect(source.pulled).toBeLessThan(64)
    }
    let chunks = 4
    const finite = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (chunks-- === 0) return controller.close()
        controller.enqueue(new Uint8Array(16).fill(121))
      },
    })
    const echoed = await hono.request('/echo', {
      method: 'POST',
      body: finite,
      duplex: 'half',
    } as RequestInit)
    expect(await echoed.text()).toBe('y'.repeat(64))
  })

  it('refuses a JSON body that is not UTF-8 whichever form of it a middleware read first', async () => {
    // c.req.json() parsed the text Hono cached: after a middleware's c.req.text() (a signature
    // check), bytes that are not UTF-8 had already become U+FFFD.
    const hono = new Hono()
    useMortar(hono, quietApp)
    let seen: string | undefined
    hono.post('/:first', async (c) => {
      const first = c.req.param('first')
      if (first === 'text') seen = await c.req.text()
      if (first === 'bytes') await c.req.arrayBuffer()
      return c.json({ note: ((await c.req.json()) as { note: string }).note, seen })
    })
    const latin1 = Uint8Array.from([...Buffer.from('{"note":"caf'), 0xe9, ...Buffer.from('"}')])
    const post = (path: string, body: Uint8Array) =>
      hono.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    for (const first of ['text', 'bytes', 'json']) {
      const refused = await post(`/${first}`, latin1)
      expect([first, refused.status]).toEqual([first, 400])
      expect(await refused.json()).toMatchObject({ code: 'E_BAD_REQUEST' })
    }
    const taken = await post('/text', Buffer.from('\uFEFF{"note":"café"}'))
    expect(await taken.json()).toEqual({ note: 'café', seen: '{"note":"café"}' })
  })

  it('renders a handler error as a problem even without mortarOnError installed', async () => {
    // Hono's own error handler, which runs first here, prints the error.
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const hono = new Hono()
    hono.use(mortarHono(quietApp))
    hono.get('/fail', () => {
      throw new Error('internal detail')
    })
    const response = await hono.request('/fail', { headers: { 'x-request-id': 'solo-1' } })
    expect(response.status).toBe(500)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    expect(response.headers.get('x-request-id')).toBe('solo-1')
    const text = await response.text()
    expect(text).not.toContain('internal detail')
    expect(JSON.parse(text)).toMatchObject({ code: 'E_INTERNAL', requestId: 'solo-1' })
  })

  it('adds x-request-id to a response whose headers are immutable', async () => {
    const hono = new Hono()
    hono.use(mortarHono(quietApp))
    hono.get('/proxied', () => Response.redirect('http://127.0.0.1/elsewhere', 302))
    const response = await hono.request('/proxied', { headers: { 'x-request-id': 'im-1' } })
    expect(response.status).toBe(302)
    expect(response.headers.get('x-request-id')).toBe('im-1')
  })
})
