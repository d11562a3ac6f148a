import { once } from 'node:events'
import { createServer, type Server, type ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { setImmediate } from 'node:timers/promises'
import type { AddressInfo } from 'node:net'
import { gzipSync } from 'node:zlib'
import express, { type RequestHandler } from 'express'
import { createApp, StartupError } from '../../app/index.js'
import { requestContext } from '../../context/index.js'
import type { Logger } from '../../logger/logger.js'
import { describe, expect, it, vi } from 'vitest'
import {
  adapterConformance,
  appWithScopedService,
  EVENTS,
  EVENTS_OPENING,
  type ScopedService,
  STREAMED,
} from '../shared/adapter-conformance.js'
import { answerClientErrors, DEFAULT_BODY_LIMIT } from '../shared/index.js'
import { toNodeHandler } from '../node/to-node-handler.js'
import {
  mortarErrorHandler,
  mortarExpress,
  mortarNotFound,
  verifyUtf8Json,
} from './mortar-express.js'

type Express = ReturnType<typeof express>

async function listen(
  server: Express,
  prepare: (http: Server) => void = () => undefined,
): Promise<{ url: string; close(): Promise<void> }> {
  const http = server.listen(0, '127.0.0.1')
  prepare(http)
  await new Promise<void>((resolve) => http.once('listening', resolve))
  const { port } = http.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve, reject) => http.close((error) => (error ? reject(error) : resolve()))),
  }
}

adapterConformance('express', async (setup) => {
  const { app, routes, mount, bodyLimit, scopeGraceMs, middleware, streamed, queryParser } = setup
  const server = express()
  if (queryParser !== undefined) server.set('query parser', queryParser)
  // Body parsers go before mortarExpress, so the context is opened after the body is read; they
  // read chunked bodies themselves, so they get the same limit.
  server.use(express.json({ limit: bodyLimit ?? DEFAULT_BODY_LIMIT, verify: verifyUtf8Json }))
  server.use(mortarExpress(app, { bodyLimit, scopeGraceMs }))
  server.use(async (_request, _response, next) => {
    await middleware()
    next()
  })
  server.use(mount.prefix, toNodeHandler(mount.handler))
  server.get(EVENTS, (_request, response) => {
    response.setHeader('content-type', 'text/event-stream')
    response.write(EVENTS_OPENING)
  })
  server.get(STREAMED, (_request, response) => {
    Readable.from(streamed()).pipe(response)
  })
  for (const route of routes) {
    const method = route.method === 'GET' ? 'get' : 'post'
    server[method](route.path, async (request, response) => {
      const query = new URL(request.originalUrl, 'http://localhost').searchParams
      response.json(
        await route.handle({
          query,
          frameworkQuery: () => request.query,
          params: request.params as Record<string, string>,
          body: request.body,
        }),
      )
    })
  }
  server.use(mortarNotFound())
  server.use(mortarErrorHandler())
  return listen(server, answerClientErrors)
})

describe('mortarExpress', () => {
  // Express's router raises a URIError with status 400 but no `expose`: it was a logged 500.
  it("renders the router's refusal of a parameter it cannot decode, in a route before it, as a 400 problem", async () => {
    const errors: unknown[] = []
    const logger = { error: (e: unknown) => errors.push(e) } as unknown as Logger
    const server = express()
    server.get('/early/:id', (request, response) => {
      response.json(request.params)
    })
    server.use(mortarErrorHandler({ logger }))
    const listening = await listen(server)
    try {
      const response = await fetch(`${listening.url}/early/%E0%A4%A`)
      expect(response.status).toBe(400)
      expect(response.headers.get('content-type')).toMatch(/problem\+json/)
      expect(await response.json()).toMatchObject({ code: 'E_BAD_REQUEST' })
      expect(errors).toEqual([])
    } finally {
      await listening.close()
    }
  })

  it('disposes the scope of a route that never ends its response, scopeGraceMs after it closed', async () => {
    const { app, SERVICE, disposed } = appWithScopedService()
    await app.start()
    const server = express()
    server.use(mortarExpress(app, { scopeGraceMs: 50 }))
    // Returns with its response open, as an event stream does, holding a scoped resource.
    server.get('/open', (_request, response) => {
      requestContext().resolve(SERVICE)
      response.setHeader('content-type', 'text/event-stream')
      response.write('data: hello\n\n')
    })
    const listening = await listen(server)
    try {
      const client = new AbortController()
      const response = await fetch(`${listening.url}/open`, {
        signal: client.signal,
        headers: { 'x-request-id': 'open-1' },
      })
      await response.body?.getReader().read()
      expect(disposed).toEqual([])
      // The client leaves: the route will never end the response.
      client.abort()
      await vi.waitFor(() => expect(disposed).toEqual(['open-1']), { timeout: 5_000 })
    } finally {
      await listening.close()
      await app.stop()
    }
  })

  // Work of the app's own that uses the request's scope after the response was sent: a route
  // that answers, then writes an audit row; a middleware the route passes on to after answering.
  // Express drops the promises, so the scope was disposed under them once the response closed.
  it.each([
    ['a route that goes on after its response', 'route'],
    ['a middleware a route passes on to after its response', 'after'],
    ['a middleware in a router, after its route', 'router'],
  ])('keeps the scope through %s, and disposes it after', async (_work, mode) => {
    const { app, SERVICE } = appWithScopedService()
    await app.start()
    let started!: (held: ScopedService | undefined) => void
    const holding = new Promise<ScopedService | undefined>((resolve) => {
      started = resolve
    })
    let seen!: (seen: { disposedUnderWork: boolean; sameScope: boolean }) => void
    const after = new Promise<{ disposedUnderWork: boolean; sameScope: boolean }>((resolve) => {
      seen = resolve
    })
    // Holds the scope past the response's end.
    const useScope = async (response: ServerResponse) => {
      const context = requestContext()
      let held: ScopedService
      try {
        held = context.resolve(SERVICE)
      } catch {
        seen({ disposedUnderWork: true, sameScope: false })
        started(undefined)
        return
      }
      started(held)
      if (!response.closed) await once(response, 'close')
      await setImmediate()
      let sameScope = false
      try {
        sameScope = context.resolve(SERVICE) === held
      } catch {
        // Resolved after the request ended: not the same scope.
      }
      seen({ disposedUnderWork: held.disposed, sameScope })
    }
    const server = express()
    server.use(mortarExpress(app))
    const routes = mode === 'router' ? express.Router() : server
    if (mode === 'route') {
      routes.get('/', async (_request, response) => {
        requestContext().resolve(SERVICE)
        response.json({ ok: true })
        await useScope(response)
      })
    } else {
      routes.get('/', (_request, response, next) => {
        requestContext().resolve(SERVICE)
        response.json({ ok: true })
        next()
      })
      routes.use(async (_request, response) => useScope(response))
    }
    if (mode === 'router') server.use(routes)
    const listening = await listen(server)
    try {
      expect(await (await fetch(`${listening.url}/`)).json()).toEqual({ ok: true })
      const held = await holding
      expect(await after).toEqual({ disposedUnderWork: false, sameScope: true })
      // Once the work is done with it, not a grace period later.
      await vi.waitFor(() => expect(held?.disposed).toBe(true))
    } finally {
      await listening.close()
      await app.stop()
    }
  })

  // A router before 2.3 calls each handler as this server does, with no tracing channel to say
  // when it settles: no handler after Mortar's would count, and the request's scope could be
  // disposed under a route still using it.
  it('refuses every request with a StartupError when its router does not trace the handlers it calls', async () => {
    const app = createApp({ modules: [] })
    await app.start()
    const mortar = mortarExpress(app)
    const passed: unknown[] = []
    const server = createServer((request, response) => {
      mortar(request as never, response as never, (error?: unknown) => {
        passed.push(error)
        response.end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      await (await fetch(`http://127.0.0.1:${port}/`)).text()
      await (await fetch(`http://127.0.0.1:${port}/again`)).text()
      expect(passed).toHaveLength(2)
      for (const error of passed) {
        expect(error).toBeInstanceOf(StartupError)
        expect((error as StartupError).message).toMatch(/router .*2\.3/)
      }
    } finally {
      await new Promise((resolve) => server.close(resolve))
      await app.stop()
    }
  })

  it('takes the requests of a router that traces its handlers', async () => {
    const app = createApp({ modules: [] })
    await app.start()
    const server = express()
    server.use(mortarExpress(app))
    server.get('/', (_request, response) => {
      response.json({ requestId: requestContext().requestId })
    })
    server.use(mortarErrorHandler())
    const listening = await listen(server)
    try {
      const response = await fetch(`${listening.url}/`, { headers: { 'x-request-id': 'traced-1' } })
      expect([response.status, await response.json()]).toEqual([200, { requestId: 'traced-1' }])
    } finally {
      await listening.close()
      await app.stop()
    }
  })

  it('refuses a scopeGraceMs that is not a whole number of ms', () => {
    const app = createApp({ modules: [] })
    expect(() => mortarExpress(app, { scopeGraceMs: Number.NaN })).toThrow(/scopeGraceMs/)
    expect(() => mortarExpress(app, { scopeGraceMs: -1 })).toThrow(/scopeGraceMs/)
  })
})

describe('mortarErrorHandler', () => {
  it('renders an error from middleware before mortarExpress, with a request id and a log entry', async () => {
    const logged: unknown[] = []
    const server = express()
    server.use(() => {
      throw new Error('early failure with a secret')
    })
    server.use(
      mortarErrorHandler({
        logger: { error: (fields: unknown) => logged.push(fields) } as never,
      }),
    )
    const started = await listen(server)
    try {
      const response = await fetch(started.url, { headers: { 'x-request-id': 'early-1' } })
      expect(response.status).toBe(500)
      expect(response.headers.get('x-request-id')).toBe('early-1')
      const text = await response.text()
      expect(text).not.toContain('secret')
      expect(JSON.parse(text)).toMatchObject({ code: 'E_INTERNAL', requestId: 'early-1' })
      expect(logged).toEqual([expect.objectContaining({ requestId: 'early-1' })])
    } finally {
      await started.close()
    }
  })

  it('maps an http-errors 4xx meant for the client (expose) to a problem with a safe message', async () => {
    const server = express()
    server.use(() => {
      // As http-errors builds them, for body-parser and Express.
      throw Object.assign(new Error('Forbidden because of internal rule 17'), {
        status: 403,
        statusCode: 403,
        expose: true,
      })
    })
    server.use(mortarErrorHandler())
    const started = await listen(server)
    try {
      const response = await fetch(started.url)
      expect(response.status).toBe(403)
      const body = await response.json()
      expect(body).toMatchObject({
        code: 'E_FORBIDDEN',
        detail: 'The request cannot be processed.',
      })
      expect(JSON.stringify(body)).not.toContain('rule 17')
    } finally {
      await started.close()
    }
  })
})

describe('toNodeHandler after a body parser', () => {
  // Numbers JSON.stringify(JSON.parse(…)) would change: past 2^53, and past the largest double.
  const EXACT = '{"id":9007199254740993,"huge":1e400}'

  async function serve(parsers: RequestHandler[]) {
    const logged: unknown[] = []
    const log = (fields: unknown, message?: unknown) => logged.push({ fields, message })
    const logger: Logger = {
      trace: () => {},
      debug: () => {},
      info: () => {},
      warn: () => {},
      error: log,
      fatal: log,
      child: () => logger,
    }
    const app = createApp({ logger, modules: [] })
    await app.start()
    const server = express()
    for (const parser of parsers) server.use(parser)
    server.use(mortarExpress(app))
    server.use(
      '/page',
      toNodeHandler(
        async (request) =>
          new Response(await request.arrayBuffer(), {
            headers: { 'x-encoding': request.headers.get('content-encoding') ?? 'none' },
          }),
      ),
    )
    server.use(mortarErrorHandler())
    const started = await listen(server)
    const post = (type: string, body: string) =>
      fetch(`${started.url}/page`, { method: 'POST', headers: { 'content-type': type }, body })
    return {
      url: started.url,
      post,
      logged,
      close: () => started.close().then(() => app.stop()),
    }
  }

  it('passes on the bytes verifyUtf8Json kept, byte for byte, for JSON, form and text bodies', async () => {
    const server = await serve([
      express.json({ verify: verifyUtf8Json }),
      express.urlencoded({ verify: verifyUtf8Json }),
      express.text({ verify: verifyUtf8Json }),
    ])
    try {
      for (const [type, body] of [
        ['application/json', EXACT],
        ['application/x-www-form-urlencoded', 'b=1&a=%20&b=2&flag'],
        ['text/plain', '\uFEFFwith a byte order mark'],
      ] as const) {
        const response = await server.post(type, body)
        expect(response.status, type).toBe(200)
        // As bytes: text() would drop the byte order mark.
        expect(Buffer.from(await response.arrayBuffer()), type).toEqual(Buffer.from(body))
      }
    } finally {
      await server.close()
    }
  })

  it('refuses a form or text body that is not UTF-8 naming its type, never as "not valid JSON"', async () => {
    const server = await serve([
      express.json({ verify: verifyUtf8Json }),
      express.urlencoded({ verify: verifyUtf8Json }),
      express.text({ verify: verifyUtf8Json }),
    ])
    try {
      const bad = Buffer.from([0x61, 0x3d, 0xff, 0xfe])
      for (const [type, status, detail] of [
        [
          'application/json',
          400,
          'The request body is not valid JSON; send a well-formed JSON document.',
        ],
        [
          'application/x-www-form-urlencoded',
          400,
          'The request body (application/x-www-form-urlencoded) is not valid UTF-8; send it as UTF-8.',
        ],
        ['text/plain', 400, 'The request body (text/plain) is not valid UTF-8; send it as UTF-8.'],
        [
          'text/plain; charset=iso-8859-1',
          415,
          'The request body\'s charset "iso-8859-1" is not supported; send it as UTF-8.',
        ],
      ] as const) {
        const response = await fetch(`${server.url}/page`, {
          method: 'POST',
          headers: { 'content-type': type },
          body: bad,
        })
        expect(response.status, type).toBe(status)
        expect(((await response.json()) as { detail: string }).detail, type).toBe(detail)
      }
    } finally {
      await server.close()
    }
  })

  it('passes on a body its parser inflated without the content-encoding it no longer has', async () => {
    const server = await serve([
      express.json({ verify: verifyUtf8Json }),
      express.raw({ type: 'application/octet-stream' }),
    ])
    try {
      for (const [type, body] of [
        ['application/json', EXACT],
        ['application/octet-stream', 'raw bytes'],
      ] as const) {
        const response = await fetch(`${server.url}/page`, {
          method: 'POST',
          headers: { 'content-type': type, 'content-encoding': 'gzip' },
          body: gzipSync(body),
        })
        expect(response.status, type).toBe(200)
        expect(response.headers.get('x-encoding'), type).toBe('none')
        expect(Buffer.from(await response.arrayBuffer()), type).toEqual(Buffer.from(body))
      }
    } finally {
      await server.close()
    }
  })

  it('fails with a logged 500 naming the fix, never re-encoding, when the bytes were not kept', async () => {
    const server = await serve([express.json(), express.urlencoded(), express.text()])
    try {
      for (const [type, body] of [
        ['application/json', EXACT],
        ['application/x-www-form-urlencoded', 'a=1'],
        ['text/plain', 'words'],
      ] as const) {
        const response = await server.post(type, body)
        expect(response.status, type).toBe(500)
        expect(await response.json()).toMatchObject({ code: 'E_BODY_ALREADY_PARSED' })
      }
      expect(server.logged).toHaveLength(3)
      expect(server.logged[0]).toMatchObject({
        fields: { err: { message: expect.stringContaining('verify: verifyUtf8Json') } },
      })
    } finally {
      await server.close()
    }
  })
})
