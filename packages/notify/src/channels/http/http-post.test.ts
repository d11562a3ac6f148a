import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type LocalServer, startLocalServer } from '../../test-support/local-server.js'
import { AddressGuard } from './address-guard.js'
import { httpPost, type Lookup } from './http-post.js'

// An https agent that speaks plain HTTP underneath, so a local http server stands in for an
// https receiver: what is judged here is the URLs, not TLS.
class PlainHttpsAgent extends https.Agent {
  override createConnection(options: net.NetConnectOpts): net.Socket {
    return net.connect(options)
  }
}

describe('httpPost', () => {
  let receiver: LocalServer
  let redirector: LocalServer
  const agents = { http: new http.Agent(), https: new PlainHttpsAgent() }

  beforeAll(async () => {
    receiver = await startLocalServer()
    // Sends /to-receiver/… on to the receiver (another port: another origin), anything else to
    // /moved/… on itself, which it takes.
    redirector = await startLocalServer((request, response) => {
      if (request.url.startsWith('/moved/')) response.statusCode = 204
      else {
        response.statusCode = 307
        response.setHeader(
          'location',
          request.url.startsWith('/to-receiver/')
            ? `http://127.0.0.1:${receiver.port}${request.url}`
            : `http://127.0.0.1:${redirector.port}/moved${request.url}`,
        )
      }
      response.end()
    })
  })
  afterAll(async () => {
    agents.http.destroy()
    agents.https.destroy()
    await receiver.close()
    await redirector.close()
  })

  const post = (url: string) =>
    httpPost({
      url,
      headers: { 'content-type': 'application/json' },
      body: '{"secret":"payload"}',
      signal: new AbortController().signal,
      timeoutMs: 5_000,
      guard: new AddressGuard({ allow: ['127.0.0.1/32'] }),
      maxRedirects: 3,
      agents,
    })

  it('follows a redirect within the origin and posts the body again', async () => {
    const result = await post(`http://127.0.0.1:${redirector.port}/plain`)
    expect(result).toMatchObject({ kind: 'response', status: 204 })
    expect(redirector.requests.at(-1)).toMatchObject({
      url: '/moved/plain',
      body: '{"secret":"payload"}',
    })
  })

  it('refuses a redirect to another origin: the body and headers never reach it', async () => {
    const before = receiver.requests.length
    const result = await httpPost({
      url: `http://127.0.0.1:${redirector.port}/to-receiver/hook`,
      headers: { authorization: 'Bearer not-for-others' },
      body: '{"secret":"payload"}',
      signal: new AbortController().signal,
      timeoutMs: 5_000,
      maxRedirects: 3,
      agents,
    })
    expect(result).toEqual({
      kind: 'refused',
      reason: `redirected (307) to another origin (http://127.0.0.1:${receiver.port}); only redirects within http://127.0.0.1:${redirector.port} are followed`,
    })
    expect(receiver.requests.length).toBe(before)
  })

  it('refuses a redirect from https to http: the body is never sent on in clear text', async () => {
    const before = receiver.requests.length
    const result = await post(`https://127.0.0.1:${redirector.port}/secure`)
    expect(result).toMatchObject({
      kind: 'refused',
      reason: expect.stringMatching(/to another origin \(http:\/\/127\.0\.0\.1:\d+\)/),
    })
    expect(redirector.requests.at(-1)?.url).toBe('/secure')
    expect(receiver.requests.length).toBe(before)
  })

  it('never reports a redirect that may follow work done as not taken: a 303 or 302 not followed is a failure after connecting', async () => {
    // A 303 answers "done, see there": whatever stops the redirect (another origin, the hop's
    // address refused or down), the message may have been taken, and a fallback provider
    // handed a refusal would send it twice. A 307 or 308 says the request was not acted on.
    const server = await startLocalServer((request, response) => {
      const [, status, target] = /^\/(\d+)\/(.*)$/.exec(request.url) ?? []
      response.statusCode = Number(status)
      response.setHeader(
        'location',
        target === 'other-origin' ? `http://127.0.0.1:${receiver.port}/hook` : `/307/${target}`,
      )
      response.end()
    })
    try {
      const send = (path: string) =>
        httpPost({
          url: `${server.url}${path}`,
          headers: {},
          body: '{}',
          signal: new AbortController().signal,
          timeoutMs: 5_000,
          guard: new AddressGuard({ allow: ['127.0.0.1/32'] }),
          maxRedirects: 3,
          agents,
        })
      for (const path of ['/303/other-origin', '/302/other-origin', '/301/other-origin']) {
        expect(await send(path), path).toMatchObject({
          kind: 'failed',
          connected: true,
          code: 'E_REDIRECT',
          reason: expect.stringContaining('to another origin'),
        })
      }
      // A 303, then 307s past maxRedirects: the 303 may have acted, whatever the later hops say.
      expect(await send('/303/loop')).toMatchObject({ kind: 'failed', connected: true })
      expect(await send('/307/loop')).toMatchObject({ kind: 'refused' })
      expect(await send('/307/other-origin')).toMatchObject({ kind: 'refused' })
    } finally {
      await server.close()
    }
  })

  it('takes the answer from the first 16 KiB of the body: one that never ends is still a 2xx, not a timeout', async () => {
    const endless = await startLocalServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 'a')
      const pour = () => {
        while (!response.destroyed && response.write(chunk)) {}
      }
      response.on('drain', pour)
      pour()
    })
    try {
      const result = await httpPost({
        url: endless.url,
        headers: {},
        body: '{}',
        signal: new AbortController().signal,
        timeoutMs: 2_000,
        guard: new AddressGuard({ allow: ['127.0.0.1/32'] }),
        agents,
      })
      expect(result).toMatchObject({ kind: 'response', status: 200 })
      expect(result.kind === 'response' && result.body.length).toBe(16 * 1024)
    } finally {
      await endless.close()
    }
  })

  it('takes a status once it is in: a body that stalls past the timeout or is cut off keeps it, not a timeout sent again', async () => {
    // The receiver answered (a chat room posted the message): reading its body is no part of
    // the request, and failing there must not make a transient failure that is sent again.
    const stalled = await startLocalServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' })
      response.write('ok')
    })
    const cut = await startLocalServer((_request, response) => {
      response.writeHead(502, { 'content-length': '100' })
      response.write('bad gateway')
      setImmediate(() => response.socket?.destroy())
    })
    try {
      const options = {
        headers: {},
        body: '{}',
        signal: new AbortController().signal,
        timeoutMs: 300,
        guard: new AddressGuard({ allow: ['127.0.0.1/32'] }),
        agents,
      }
      expect(await httpPost({ ...options, url: stalled.url })).toMatchObject({
        kind: 'response',
        status: 200,
        body: 'ok',
      })
      expect(await httpPost({ ...options, url: cut.url })).toMatchObject({
        kind: 'response',
        status: 502,
        body: 'bad gateway',
      })
    } finally {
      await stalled.close()
      await cut.close()
    }
  })

  it('refuses loopback however the URL spells it, and a name with one refused address among its answers', async () => {
    const received = receiver.requests.length
    const strict = (url: string, lookup?: Lookup) =>
      httpPost({
        url,
        headers: {},
        body: 'x',
        signal: new AbortController().signal,
        timeoutMs: 5_000,
        guard: new AddressGuard(),
        lookup,
      })
    for (const host of ['2130706433', '0x7f.1', '0177.0.0.1', '127.1', '0', '[::ffff:7f00:1]']) {
      expect(await strict(`http://${host}:${receiver.port}/`), host).toMatchObject({
        kind: 'refused',
      })
    }
    for (const host of ['[::ffff:127.0.0.1]', '[64:ff9b::7f00:1]', '[::]', '[fe80::1%25eth0]']) {
      expect(await strict(`http://${host}/`), host).toMatchObject({ kind: 'refused' })
    }
    const mixed: Lookup = (_hostname, _options, callback) =>
      callback(null, [
        { address: '93.184.216.34', family: 4 },
        { address: '100.64.0.1', family: 4 },
      ])
    expect(await strict('http://mixed.example./', mixed)).toMatchObject({
      kind: 'refused',
      reason: 'mixed.example. resolves to 100.64.0.1, which is shared (carrier-grade NAT)',
    })
    expect(receiver.requests).toHaveLength(received)
  })

  it('connects to the address it checked: a name whose answer changes after the check never reaches the new one', async () => {
    const received = receiver.requests.length
    let lookups = 0
    // Allowed, but nothing listens there; the second answer is the receiver's.
    const rebinding: Lookup = (_hostname, _options, callback) => {
      lookups += 1
      callback(null, [{ address: lookups === 1 ? '127.0.0.3' : '127.0.0.1', family: 4 }])
    }
    const result = await httpPost({
      url: `http://rebind.example:${receiver.port}/`,
      headers: {},
      body: 'x',
      signal: new AbortController().signal,
      timeoutMs: 5_000,
      guard: new AddressGuard({ allow: ['127.0.0.3/32'] }),
      lookup: rebinding,
    })
    expect(result).toMatchObject({ kind: 'failed', connected: false })
    expect(lookups).toBe(1)
    expect(receiver.requests).toHaveLength(received)
  })

  it('checks the address without agents too: never through the global agent, which an environment proxy may take over', async () => {
    // What NODE_USE_ENV_PROXY=1 makes of the global agent: the proxy gets the name and connects
    // to it itself, so no lookup of ours runs.
    const proxy = await startLocalServer()
    const saved = http.globalAgent
    http.globalAgent = new http.Agent({ proxyEnv: { HTTP_PROXY: proxy.url } })
    try {
      const result = await httpPost({
        url: 'http://metadata.internal.example/latest',
        headers: {},
        body: 'x',
        signal: new AbortController().signal,
        timeoutMs: 5_000,
        guard: new AddressGuard(),
        lookup: (_name, _options, callback) =>
          callback(null, [{ address: '169.254.169.254', family: 4 }]),
      })
      expect(result).toMatchObject({
        kind: 'refused',
        reason: expect.stringContaining('169.254.169.254'),
      })
      expect(proxy.requests).toHaveLength(0)
    } finally {
      http.globalAgent = saved
      await proxy.close()
    }
  })

  it('gives the whole request, redirects included, timeoutMs in all: not each hop afresh', async () => {
    // Each hop answers only when the test says so; the timers are the test's, so the time that
    // passes is what it advances, whatever the machine's load.
    const held: (() => void)[] = []
    const arrived: (() => void)[] = []
    const arrival = () => new Promise<void>((resolve) => arrived.push(resolve))
    const server = await startLocalServer((request, response) => {
      held.push(() => {
        if (request.url === '/next') response.statusCode = 204
        else {
          response.statusCode = 307
          response.setHeader('location', '/next')
        }
        response.end()
      })
      arrived.shift()?.()
    })
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      const atFirst = arrival()
      const posting = httpPost({
        url: `${server.url}/first`,
        headers: {},
        body: '{}',
        signal: new AbortController().signal,
        timeoutMs: 100,
        guard: new AddressGuard({ allow: ['127.0.0.1/32'] }),
        maxRedirects: 1,
        agents,
      })
      const atSecond = arrival()
      await atFirst
      vi.advanceTimersByTime(60)
      held.shift()?.()
      await atSecond
      // 120 ms in all: before, the second hop had 100 of its own and was answered.
      vi.advanceTimersByTime(60)
      held.shift()?.()
      expect(await posting).toMatchObject({ kind: 'failed', code: 'ETIMEDOUT', connected: true })
    } finally {
      vi.useRealTimers()
      await server.close()
    }
  })
})
