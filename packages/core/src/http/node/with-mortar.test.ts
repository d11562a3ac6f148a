import { Readable } from 'node:stream'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setImmediate as nextTick } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { onBeforeResponse, requestContext } from '../../context/index.js'
import { ForbiddenError } from '../../errors/index.js'
import type { Logger } from '../../logger/logger.js'
import {
  adapterConformance,
  EVENTS,
  EVENTS_OPENING,
  STREAMED,
} from '../shared/adapter-conformance.js'
import { answerClientErrors } from '../shared/index.js'
import { readJson } from './read-json.js'
import { toNodeHandler } from './to-node-handler.js'
import { type NodeHandler, withMortar } from './with-mortar.js'

async function listen(server: Server): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      ),
  }
}

adapterConformance('node:http', async (setup) => {
  const { app, routes, mount, bodyLimit, scopeGraceMs, middleware, streamed } = setup
  const pages = toNodeHandler(mount.handler, { prefix: mount.prefix })
  const handler: NodeHandler = async (request, response) => {
    await middleware()
    const url = new URL(request.url ?? '/', 'http://localhost')
    if (url.pathname.startsWith(mount.prefix)) return pages(request, response)
    if (url.pathname === EVENTS) {
      response.setHeader('content-type', 'text/event-stream')
      response.write(EVENTS_OPENING)
      return
    }
    if (url.pathname === STREAMED) {
      // Started before returning, so the adapter does not take the route for unknown.
      response.flushHeaders()
      Readable.from(streamed()).pipe(response)
      return
    }
    const route = routes.find(
      (candidate) => candidate.method === request.method && paramsOf(candidate.path, url.pathname),
    )
    if (!route) return
    const params = paramsOf(route.path, url.pathname) ?? {}
    const body = request.method === 'POST' ? await readJson(request) : undefined
    const result = await route.handle({
      query: url.searchParams,
      frameworkQuery: () => undefined,
      params,
      body,
    })
    response.setHeader('content-type', 'application/json')
    response.end(JSON.stringify(result))
  }
  return listen(
    answerClientErrors(createServer(withMortar(app, handler, { bodyLimit, scopeGraceMs }))),
  )
})

// The parameters of `path` (its `:name` segments) matched by `pathname`, decoded as the routers
// decode them; undefined when it does not match.
function paramsOf(path: string, pathname: string): Record<string, string> | undefined {
  const want = path.split('/')
  const got = pathname.split('/')
  if (want.length !== got.length) return undefined
  const params: Record<string, string> = {}
  for (const [index, segment] of want.entries()) {
    const value = got[index] as string
    if (segment.startsWith(':')) params[segment.slice(1)] = decodeURIComponent(value)
    else if (segment !== value) return undefined
  }
  return params
}

const quietApp = {
  logger: { error: () => undefined } as unknown as Logger,
  createScope: () => {
    throw new Error('no scope in this test')
  },
}

describe('readJson', () => {
  const echo = (limit?: number) =>
    listen(
      createServer(
        withMortar(quietApp, async (request, response) => {
          const body = await readJson(request, limit === undefined ? {} : { limit })
          response.end(JSON.stringify({ body, requestId: requestContext().requestId }))
        }),
      ),
    )

  it('rejects a body declared as another media type with a 415 problem', async () => {
    const server = await echo()
    try {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: '{}',
      })
      expect(response.status).toBe(415)
      expect(await response.json()).toMatchObject({ code: 'E_UNSUPPORTED_MEDIA_TYPE' })
    } finally {
      await server.close()
    }
  })

  it('accepts +json media types and a body right at the limit', async () => {
    const server = await echo(13)
    try {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/merge-patch+json; charset=utf-8' },
        body: '{"a":"12345"}',
      })
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ body: { a: '12345' } })
    } finally {
      await server.close()
    }
  })

  it('answers a body that is not UTF-8 with the malformed-JSON 400, and reads one that is', async () => {
    // Decoded leniently, each of these became U+FFFD and the body parsed as text never sent.
    const invalid = [
      [0x80],
      [0xff],
      [0xc0, 0xaf],
      [0xe2, 0x82],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
    ]
    const server = await echo()
    try {
      const post = (middle: number[]) =>
        fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: new Uint8Array([...Buffer.from('{"a":"x'), ...middle, ...Buffer.from('y"}')]),
        })
      for (const bytes of invalid) {
        const response = await post(bytes)
        expect(response.status, String(bytes)).toBe(400)
        const problem = (await response.json()) as { code: string; detail: string }
        expect(problem.code).toBe('E_BAD_REQUEST')
        expect(problem.detail).toMatch(/not valid JSON/)
      }
      const valid = await post([...Buffer.from('é€😀')])
      expect(await valid.json()).toMatchObject({ body: { a: 'xé€😀y' } })
    } finally {
      await server.close()
    }
  })

  it('refuses a chunked body that grows past the limit without a content-length', async () => {
    const server = await echo(8)
    try {
      const chunks = ['{"a":', '"123456789"}']
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const chunk = chunks.shift()
          if (chunk === undefined) controller.close()
          else controller.enqueue(new TextEncoder().encode(chunk))
        },
      })
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit)
      expect(response.status).toBe(413)
      expect(await response.json()).toMatchObject({ code: 'E_PAYLOAD_TOO_LARGE' })
    } finally {
      await server.close()
    }
  })
})

describe('withMortar', () => {
  it('cuts a response short when the handler fails after it started answering', async () => {
    const server = await listen(
      createServer(
        withMortar(quietApp, async (_request, response) => {
          response.writeHead(200, { 'content-type': 'text/plain' })
          response.write('partial')
          throw new Error('late failure')
        }),
      ),
    )
    try {
      // Whether the headers got out first or not, the client never sees a complete response.
      await expect(fetch(server.url).then((response) => response.text())).rejects.toThrow()
    } finally {
      await server.close()
    }
  })

  it('holds a streamed response until async before-response hooks pass, then sends it in order', async () => {
    const app = { ...quietApp }
    const seen: string[] = []
    onBeforeResponse(app, async () => {
      seen.push('hook')
      await nextTick()
      seen.push('hook done')
    })
    const server = await listen(
      createServer(
        withMortar(app, async (_request, response) => {
          response.writeHead(201, { 'content-type': 'text/plain', 'x-stream': 'yes' })
          seen.push(`write ${response.write('a')}`)
          response.write('b')
          response.end('c')
          seen.push('handler done')
        }),
      ),
    )
    try {
      const response = await fetch(server.url)
      expect(response.status).toBe(201)
      expect(response.headers.get('x-stream')).toBe('yes')
      expect(await response.text()).toBe('abc')
      expect(seen).toEqual(['hook', 'write true', 'handler done', 'hook done'])
    } finally {
      await server.close()
    }
  })

  it('replaces a streamed response with the problem of a failed hook and drops later writes', async () => {
    const app = { ...quietApp }
    let failed!: () => void
    const hookFailed = new Promise<void>((resolve) => {
      failed = resolve
    })
    onBeforeResponse(app, async () => {
      await nextTick()
      failed()
      throw new ForbiddenError('Check the trip first.')
    })
    const server = await listen(
      createServer(
        withMortar(app, async (_request, response) => {
          response.writeHead(200, { 'content-type': 'text/plain', etag: '"v1"' })
          response.write('secret-1')
          await hookFailed
          await nextTick()
          response.write('secret-2')
          // A dropped end still calls back, so a handler awaiting it does not hang.
          await new Promise<void>((resolve) => response.end(resolve))
        }),
      ),
    )
    try {
      const response = await fetch(server.url)
      expect(response.headers.get('etag')).toBeNull()
      const text = await response.text()
      expect(text).not.toContain('secret')
      expect(response.status).toBe(403)
      expect(JSON.parse(text)).toMatchObject({
        code: 'E_FORBIDDEN',
        detail: 'Check the trip first.',
      })
    } finally {
      await server.close()
    }
  })
})
