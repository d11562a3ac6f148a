import { PassThrough, Readable } from 'node:stream'
import { createGunzip, gzipSync } from 'node:zlib'
import { once } from 'node:events'
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify'
import { setImmediate } from 'node:timers/promises'
import { describe, expect, it, vi } from 'vitest'
import { createApp } from '../../app/create-app.js'
import { StartupError } from '../../app/startup-error.js'
import { requestContext } from '../../context/index.js'
import { ForbiddenError } from '../../errors/index.js'
import { onBeforeResponse } from '../../context/request-hooks.js'
import {
  adapterConformance,
  appWithScopedService,
  EVENTS,
  EVENTS_OPENING,
  type ScopedService,
  STREAMED,
} from '../shared/adapter-conformance.js'
import { mortarFastify } from './mortar-fastify.js'
import { mountFetch } from './mount-fetch.js'

adapterConformance('fastify', async (setup) => {
  const { app, routes, mount, bodyLimit, scopeGraceMs, middleware, streamed, queryParser } = setup
  const fastify = Fastify(
    queryParser === undefined ? {} : { routerOptions: { querystringParser: queryParser } },
  )
  await fastify.register(mortarFastify, { app, bodyLimit, scopeGraceMs })
  fastify.addHook('preHandler', async () => {
    await middleware()
  })
  for (const route of routes) {
    fastify.route({
      method: route.method,
      url: route.path,
      handler: async (request) =>
        route.handle({
          query: new URL(request.url, 'http://localhost').searchParams,
          frameworkQuery: () => request.query,
          params: request.params as Record<string, string>,
          body: request.body,
        }),
    })
  }
  await mountFetch(fastify, mount.prefix, mount.handler)
  fastify.get(EVENTS, (_request, reply) => {
    const stream = new PassThrough()
    stream.write(EVENTS_OPENING)
    return reply.type('text/event-stream').send(stream)
  })
  fastify.get(STREAMED, (_request, reply) => reply.send(Readable.from(streamed())))
  await fastify.listen({ port: 0, host: '127.0.0.1' })
  return { url: urlOf(fastify), close: () => fastify.close() }
})

// The loopback URL of a listening Fastify.
function urlOf(fastify: FastifyInstance): string {
  const address = fastify.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

/**
 * A Fastify with mortarFastify registered for `app`, once started; `listen()` starts it on
 * loopback and gives its URL, `close()` closes it and stops the app.
 */
async function mortarServer(app: ReturnType<typeof createApp> = createApp({ modules: [] })) {
  await app.start()
  const fastify = Fastify()
  await fastify.register(mortarFastify, { app })
  return {
    app,
    fastify,
    listen: async () => {
      await fastify.listen({ port: 0, host: '127.0.0.1' })
      return urlOf(fastify)
    },
    close: async () => {
      await fastify.close()
      await app.stop()
    },
  }
}

// What work of a request saw once its client left.
interface SeenAfterLeaving {
  readonly disposedUnderHook: boolean
  readonly sameScope: boolean
}

/**
 * {@link mortarServer} of an app with a scoped service, and what a scope test awaits: `holding`
 * once its work holds the service (`started`), `after` with what that work saw once its client
 * left (`seen`).
 */
async function scopeServer() {
  const { app, SERVICE } = appWithScopedService()
  const server = await mortarServer(app)
  let started!: (held: ScopedService | undefined) => void
  const holding = new Promise<ScopedService | undefined>((resolve) => {
    started = resolve
  })
  let seen!: (seen: SeenAfterLeaving) => void
  const after = new Promise<SeenAfterLeaving>((resolve) => {
    seen = resolve
  })
  return { ...server, SERVICE, started, holding, seen, after }
}

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

  // Fastify's router answered them with a JSON body of its own, not a problem.
  it("renders what Fastify's router refuses before any hook as a problem: a parameter past maxParamLength is a 414", async () => {
    const logged: unknown[] = []
    const fastify = Fastify({ maxParamLength: 8 })
    await fastify.register(mortarFastify, {
      app: {
        logger: { error: (e: unknown) => logged.push(e) } as never,
        createScope: () => {
          throw new Error('no scope in this test')
        },
      },
    })
    fastify.get('/items/:id', async (request) => request.params)
    const long = await fastify.inject({
      url: '/items/123456789',
      headers: { 'x-request-id': 'long-1' },
    })
    expect(long.statusCode).toBe(414)
    expect(long.headers['content-type']).toMatch(/problem\+json/)
    expect(long.headers['x-request-id']).toBe('long-1')
    expect(long.json()).toMatchObject({ status: 414, code: 'E_HTTP_414', requestId: 'long-1' })
    const bad = await fastify.inject({ url: '/items/%ZZ' })
    expect(bad.statusCode).toBe(400)
    expect(bad.json()).toMatchObject({ code: 'E_BAD_REQUEST' })
    expect(logged).toEqual([])
    await fastify.close()
  })

  it("leaves an app's own frameworkErrors in charge", async () => {
    const fastify = Fastify({
      frameworkErrors: (_error, _request, reply) => {
        reply.status(400 as never).send('own' as never)
      },
    })
    await fastify.register(mortarFastify, { app: createApp({ modules: [] }) })
    fastify.get('/items/:id', async (request) => request.params)
    const response = await fastify.inject({ url: '/items/%ZZ' })
    expect([response.statusCode, response.body]).toEqual([400, 'own'])
    await fastify.close()
  })

  it('takes a compressed JSON body that a hook registered after it decompresses', async () => {
    // The UTF-8 check read the gzip bytes, and refused every compressed JSON body.
    const fastify = Fastify()
    await fastify.register(mortarFastify, { app: createApp({ modules: [] }) })
    fastify.addHook('preParsing', async (request, _reply, payload) => {
      if (request.headers['content-encoding'] !== 'gzip') return payload
      delete request.headers['content-encoding']
      delete request.headers['content-length']
      return payload.pipe(createGunzip())
    })
    fastify.post('/', async (request) => request.body)
    const response = await fastify.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync('{"note":"café"}'),
    })
    expect([response.statusCode, response.json()]).toEqual([200, { note: 'café' }])
    await fastify.close()
  })

  it('gives a mounted handler a body a hook decompressed without its content-encoding', async () => {
    // A decompressing hook that keeps the header, counting what arrived as Fastify asks (as
    // @fastify/compress's does): the handler was told gzip of bytes that were not.
    const fastify = Fastify()
    await fastify.register(mortarFastify, { app: createApp({ modules: [] }) })
    fastify.addHook('preParsing', async (request, _reply, payload) => {
      if (request.headers['content-encoding'] !== 'gzip') return payload
      const counted = new PassThrough() as PassThrough & { receivedEncodedLength: number }
      counted.receivedEncodedLength = 0
      payload.on('data', (chunk: Buffer) => {
        counted.receivedEncodedLength += chunk.length
      })
      return payload.pipe(createGunzip()).pipe(counted)
    })
    await mountFetch(fastify, '/pages', async (request) =>
      Response.json({
        encoding: request.headers.get('content-encoding'),
        length: request.headers.get('content-length'),
        text: await request.text(),
      }),
    )
    const response = await fastify.inject({
      method: 'POST',
      url: '/pages/echo',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync('{"note":"café"}'),
    })
    expect([response.statusCode, response.json()]).toEqual([
      200,
      { encoding: null, length: '16', text: '{"note":"café"}' },
    ])
    await fastify.close()
  })

  it('refuses to register without an app', async () => {
    const fastify = Fastify()
    await expect(fastify.register(mortarFastify, {} as never)).rejects.toThrow(/needs \{ app \}/)
  })

  // Their work would run uncounted: a preHandler or onSend hook losing its scope to a client
  // that left, an onRequest hook without a context, a route without its body limit.
  it.each([
    [
      'an onSend hook',
      (f: ReturnType<typeof Fastify>) => {
        f.addHook('onSend', async () => {})
      },
      /onSend hook/,
    ],
    [
      'a preHandler hook',
      (f: ReturnType<typeof Fastify>) => {
        f.addHook('preHandler', async () => {})
      },
      /preHandler hook/,
    ],
    [
      'an onRequestAbort hook',
      (f: ReturnType<typeof Fastify>) => {
        f.addHook('onRequestAbort', async (_request: unknown) => {})
      },
      /onRequestAbort hook/,
    ],
    [
      'a route',
      (f: ReturnType<typeof Fastify>) => {
        f.get('/early', async () => 'early')
      },
      /Routes were declared/,
    ],
    [
      'a fastify-plugin of hooks',
      (f: ReturnType<typeof Fastify>) => {
        f.register(
          Object.assign(
            async (plugin: ReturnType<typeof Fastify>) => {
              plugin.addHook('onResponse', async () => {})
            },
            { [Symbol.for('skip-override')]: true },
          ),
        )
      },
      /onResponse hook/,
    ],
  ])('refuses to register after %s, naming it', async (_what, add, named) => {
    const app = createApp({ modules: [] })
    await app.start()
    const fastify = Fastify()
    add(fastify)
    const registered = fastify.register(mortarFastify, { app })
    await expect(registered).rejects.toBeInstanceOf(StartupError)
    await expect(fastify.ready()).rejects.toThrow(named)
    await app.stop()
  })

  it('adds no response check for an app without before-response hooks, and refuses one added later', async () => {
    const { app, fastify, close } = await mortarServer()
    fastify.get('/', async () => 'ok')
    await fastify.ready()
    expect(() => onBeforeResponse(app, () => undefined)).toThrow(StartupError)
    const response = await fastify.inject({ method: 'GET', url: '/' })
    expect(response.body).toBe('ok')
    await close()
  })

  it('listens for the end of a response only for a request that reads its signal or scope', async () => {
    const { fastify, listen, close } = await mortarServer()
    fastify.get('/plain', async (_request, reply) => reply.raw.listenerCount('close'))
    fastify.get('/signal', async (_request, reply) => {
      const before = reply.raw.listenerCount('close')
      const { aborted } = requestContext().signal
      return { added: reply.raw.listenerCount('close') - before, aborted }
    })
    const url = await listen()
    const plain = Number(await (await fetch(`${url}/plain`)).text())
    const signal = (await (await fetch(`${url}/signal`)).json()) as {
      added: number
      aborted: boolean
    }
    expect(signal).toEqual({ added: 1, aborted: false })
    // Node and Fastify add their own listeners; on a second plain request Mortar has added none.
    expect(Number(await (await fetch(`${url}/plain`)).text())).toBe(plain)
    await close()
  })

  // An auth hook of the app's own that loads a session from the database: its client leaves
  // while it awaits, and Fastify runs on through it.
  it.each([
    ['goes on to the handler', 'handler'],
    ['replies itself', 'reply'],
    ['throws', 'throw'],
  ])(
    'keeps the scope through a preHandler hook its client left, which then %s, and disposes it after',
    async (_then, mode) => {
      const { fastify, SERVICE, started, holding, seen, after, listen, close } = await scopeServer()
      fastify.addHook('preHandler', async (_request, reply) => {
        const context = requestContext()
        const held = context.resolve(SERVICE)
        const left = new Promise((resolve) => context.signal.addEventListener('abort', resolve))
        started(held)
        await left
        await setImmediate()
        seen({ disposedUnderHook: held.disposed, sameScope: context.resolve(SERVICE) === held })
        if (mode === 'reply') return reply.code(401).send({ error: 'log in' })
        if (mode === 'throw') throw new ForbiddenError('Log in first.')
      })
      fastify.get('/', async () => {
        requestContext().resolve(SERVICE)
        return { ok: true }
      })
      const url = await listen()
      try {
        const client = new AbortController()
        const request = fetch(`${url}/`, { signal: client.signal })
        const held = await holding
        client.abort()
        await request.catch(() => undefined)
        expect(await after).toEqual({ disposedUnderHook: false, sameScope: true })
        // Once Fastify is done with the request, not a grace period later.
        await vi.waitFor(() => expect(held?.disposed).toBe(true))
      } finally {
        await close()
      }
    },
  )

  // A plugin of the app's own whose hook uses the request's scope after the handler: an audit
  // onResponse hook (run once the response is sent), an onSend or preSerialization hook whose
  // client leaves while it awaits. The scope was disposed under them.
  it.each([
    ['an onResponse hook', 'onResponse'],
    ['an onResponse hook run after another that outlasted the response', 'second onResponse'],
    ['an onResponse hook given at the route', 'route onResponse'],
    ['an onResponse hook of an unknown route', 'not found onResponse'],
    ['an onSend hook whose client left', 'onSend'],
    ['an onSend hook that calls done, whose client left', 'onSend done'],
    ['a preSerialization hook whose client left', 'preSerialization'],
  ])(
    'keeps the scope through %s of a plugin of the app, and disposes it after',
    async (_hook, mode) => {
      const { fastify, SERVICE, started, holding, seen, after, listen, close } = await scopeServer()
      // Holds the scope past the response's end: sent, or closed by the client that left.
      const useScope = async (reply: FastifyReply) => {
        const context = requestContext()
        let held: ScopedService
        try {
          held = context.resolve(SERVICE)
        } catch {
          // The scope is already gone when this hook starts.
          seen({ disposedUnderHook: true, sameScope: false })
          started(undefined)
          return
        }
        started(held)
        if (!reply.raw.closed) await once(reply.raw, 'close')
        await setImmediate()
        let sameScope = false
        try {
          sameScope = context.resolve(SERVICE) === held
        } catch {
          // Resolved after the request ended: not the same scope.
        }
        seen({ disposedUnderHook: held.disposed, sameScope })
      }
      const handler = async () => {
        requestContext().resolve(SERVICE)
        return { ok: true }
      }
      if (mode === 'route onResponse') {
        fastify.get('/', { onResponse: async (_request, reply) => useScope(reply) }, handler)
      } else if (mode === 'not found onResponse') {
        fastify.addHook('onResponse', async (_request, reply) => useScope(reply))
      } else {
        await fastify.register(async (plugin) => {
          if (mode === 'onResponse') {
            plugin.addHook('onResponse', async (_request, reply) => useScope(reply))
          } else if (mode === 'second onResponse') {
            plugin.addHook('onResponse', async (_request, reply) => {
              if (!reply.raw.closed) await once(reply.raw, 'close')
              await setImmediate()
            })
            plugin.addHook('onResponse', async (_request, reply) => useScope(reply))
          } else if (mode === 'onSend') {
            plugin.addHook('onSend', async (_request, reply) => useScope(reply))
          } else if (mode === 'onSend done') {
            plugin.addHook('onSend', (_request, reply, payload, done) => {
              void useScope(reply).then(() => done(null, payload))
            })
          } else {
            plugin.addHook('preSerialization', async (_request, reply) => useScope(reply))
          }
          plugin.get('/', handler)
        })
      }
      const url = await listen()
      try {
        const client = new AbortController()
        const path = mode === 'not found onResponse' ? '/nowhere' : '/'
        const request = fetch(`${url}${path}`, { signal: client.signal })
        const held = await holding
        if (!mode.includes('onResponse')) client.abort()
        await request.then((response) => response.text()).catch(() => undefined)
        expect(await after).toEqual({ disposedUnderHook: false, sameScope: true })
        // Once the hook is done with it, not a grace period later.
        await vi.waitFor(() => expect(held?.disposed).toBe(true))
      } finally {
        await close()
      }
    },
  )

  // A long poll: the handler returned and answers later; the client leaves, and the plugin's
  // onRequestAbort hook (which Fastify starts on the request's close, after the response's) tidies
  // up through the scope. Nothing else of the request runs when it starts.
  it.each([
    ['added on the instance', 'instance'],
    ['given at the route', 'route'],
  ])(
    'keeps the scope through an onRequestAbort hook %s that starts once nothing else runs',
    async (_where, mode) => {
      const { fastify, SERVICE, started, holding, seen, after, listen, close } = await scopeServer()
      const onRequestAbort = async (_request: unknown) => {
        const context = requestContext()
        let held: ScopedService
        try {
          held = context.resolve(SERVICE)
        } catch {
          seen({ disposedUnderHook: true, sameScope: false })
          return
        }
        await setImmediate()
        let sameScope = false
        try {
          sameScope = context.resolve(SERVICE) === held
        } catch {
          // Resolved after the request ended: not the same scope.
        }
        seen({ disposedUnderHook: held.disposed, sameScope })
      }
      const timers: NodeJS.Timeout[] = []
      const longPoll = (_request: unknown, reply: FastifyReply) => {
        started(requestContext().resolve(SERVICE))
        timers.push(setTimeout(() => reply.send('late'), 60_000))
      }
      if (mode === 'route') fastify.get('/', { onRequestAbort }, longPoll)
      else {
        fastify.addHook('onRequestAbort', onRequestAbort)
        fastify.get('/', longPoll)
      }
      const url = await listen()
      try {
        const client = new AbortController()
        const request = fetch(`${url}/`, { signal: client.signal })
        const held = await holding
        client.abort()
        await request.catch(() => undefined)
        expect(await after).toEqual({ disposedUnderHook: false, sameScope: true })
        await vi.waitFor(() => expect(held?.disposed).toBe(true))
      } finally {
        for (const timer of timers) clearTimeout(timer)
        await close()
      }
    },
  )

  it('aborts the signal of work that outlives a response only if the client went away', async () => {
    const { fastify, listen, close } = await mortarServer()
    let late: Promise<boolean> | undefined
    fastify.get('/', async () => {
      const context = requestContext()
      late = new Promise((resolve) => setTimeout(() => resolve(context.signal.aborted), 20))
      return 'sent'
    })
    const url = await listen()
    expect(await (await fetch(`${url}/`)).text()).toBe('sent')
    expect(await late).toBe(false)
    await close()
  })

  it('ends a mounted event stream when the server closes, so close() and the stop behind it run', async () => {
    const { app, fastify, listen } = await mortarServer()
    let cancelled = false
    await mountFetch(fastify, '/events', () => {
      const body = new ReadableStream<Uint8Array>({
        start: (controller) => controller.enqueue(new TextEncoder().encode(': open\n\n')),
        cancel: () => {
          cancelled = true
        },
      })
      return new Response(body, { headers: { 'content-type': 'text/event-stream' } })
    })
    const url = await listen()
    const response = await fetch(`${url}/events`)
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    await reader.read()
    // Before, close() waited for the stream to end, which it never does by itself.
    await fastify.close()
    expect(cancelled).toBe(true)
    for (;;) if ((await reader.read()).done) break
    await app.stop()
  })

  it('gives a mounted handler the path the server routed, whatever the Host header holds', async () => {
    const { fastify, close } = await mortarServer()
    await mountFetch(fastify, '/pages', (request) => new Response(new URL(request.url).pathname))
    // Before, the Host was concatenated into the URL: `evil.example/admin?` made the handler
    // serve /admin for a request routed as /pages/inbox, and `x:99999` was a 500.
    for (const host of [
      'evil.example/admin?',
      'evil.example#',
      'a@evil.example',
      'x:99999',
      '[::1',
    ]) {
      const response = await fastify.inject({ url: '/pages/inbox', headers: { host } })
      expect([host, response.statusCode, response.body]).toEqual([host, 200, '/inbox'])
    }
    await close()
  })
})
