import { randomUUID } from 'node:crypto'
import type { LookupAddress } from 'node:dns'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { closedPort, type LocalServer, startLocalServer } from '../../test-support/local-server.js'
import { channelConformance } from '../../testing/channel-conformance.js'
import type { Outgoing } from '../channel.js'
import { generateWebhookSecret, verifyWebhook } from './standard-webhooks.js'
import { webhookChannel } from './webhook-channel.js'
import type { WebhookMessage } from './webhook-message.js'

const secret = generateWebhookSecret()
// Only loopback addresses are ever connected to; the guard is what refuses everything else.
const allowTestServer = { allow: ['127.0.0.1/32'] }

function outgoing(
  to: string,
  overrides: Partial<Outgoing<WebhookMessage>> = {},
): Outgoing<WebhookMessage> {
  return {
    id: randomUUID(),
    to,
    message: { type: 'order.shipped', data: { orderId: 'o-1' } },
    recipientId: 'partner-1',
    type: 'order.shipped',
    attempt: 1,
    signal: new AbortController().signal,
    ...overrides,
  }
}

/** A lookup that resolves every name to the given addresses, as a hostile DNS could. */
function lookupTo(...addresses: string[]) {
  return (
    _hostname: string,
    _options: { all: true },
    callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
  ) =>
    callback(
      null,
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    )
}

/** A rebinding DNS: the first lookup gets 127.0.0.1 (allowed), any later one `then`. */
function rebindingLookup(then: string) {
  let lookups = 0
  const lookup = (
    _hostname: string,
    _options: { all: true },
    callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
  ) => {
    lookups += 1
    callback(null, [{ address: lookups === 1 ? '127.0.0.1' : then, family: 4 }])
  }
  return Object.assign(lookup, { lookups: () => lookups })
}

describe('webhookChannel', () => {
  let receiver: LocalServer
  const verified: string[] = []

  beforeAll(async () => {
    // A receiver as users write one: verify the signature on the raw body, answer 2xx.
    receiver = await startLocalServer((request, response) => {
      try {
        verified.push(verifyWebhook(secret, request.headers, request.body))
        response.statusCode = 204
      } catch {
        response.statusCode = 401
      }
      response.end()
    })
  })
  afterAll(() => receiver.close())

  it('posts { type, timestamp, data } signed per Standard Webhooks, the delivery id as webhook-id', async () => {
    const channel = webhookChannel({ secret, addressGuard: allowTestServer })
    const message = outgoing(`${receiver.url}/hooks`)
    const result = await channel.send(message)
    expect(result).toEqual({ status: 'accepted' })
    const request = receiver.requests.at(-1)
    expect(request?.headers['webhook-id']).toBe(message.id)
    expect(verified.at(-1)).toBe(message.id)
    const body = JSON.parse(request?.body ?? '{}')
    expect(body).toMatchObject({ type: 'order.shipped', data: { orderId: 'o-1' } })
    expect(new Date(body.timestamp).toString()).not.toBe('Invalid Date')
    await channel.close()
  })

  it('is refused by the receiver when signed with another secret', async () => {
    const channel = webhookChannel({
      secret: generateWebhookSecret(),
      addressGuard: allowTestServer,
    })
    const result = await channel.send(outgoing(`${receiver.url}/hooks`))
    expect(result).toMatchObject({ status: 'permanent', reason: expect.stringContaining('401') })
    await channel.close()
  })

  it('refuses a malformed secret at creation', () => {
    expect(() => webhookChannel({ secret: 'whsec_short' })).toThrow(/at least 24 bytes/)
    expect(() => webhookChannel({ secret: [secret, 'whsec_short'] })).toThrow(/at least 24 bytes/)
    expect(() => webhookChannel({ secret: [] })).toThrow(/needs a secret/)
  })

  it('signs under the new and the old secret during a rotation: receivers on either accept it', async () => {
    const next = generateWebhookSecret()
    for (const rotating of [[next, secret], () => [next, secret]] as const) {
      const channel = webhookChannel({ secret: rotating, addressGuard: allowTestServer })
      const message = outgoing(`${receiver.url}/hooks`)
      // The receiver still checks with the old secret only.
      expect(await channel.send(message)).toEqual({ status: 'accepted' })
      const headers = receiver.requests.at(-1)?.headers ?? {}
      expect(verifyWebhook(next, headers, receiver.requests.at(-1)?.body ?? '')).toBe(message.id)
      await channel.close()
    }
  })

  describe('a secret function', () => {
    const leaked = 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    const sendWith = async (given: () => unknown) => {
      const channel = webhookChannel({
        secret: given as () => string,
        addressGuard: allowTestServer,
      })
      const before = receiver.requests.length
      try {
        const result = await channel.send(outgoing(`${receiver.url}/hooks`))
        return { result, posted: receiver.requests.length - before }
      } finally {
        await channel.close()
      }
    }

    it('that throws fails the send as certainly not sent (retried), its message unrecorded', async () => {
      const error = Object.assign(new Error(`vault refused ${leaked}`), { code: 'E_VAULT' })
      const { result, posted } = await sendWith(async () => {
        throw error
      })
      // Before, the throw escaped the channel: a transient failure quoting its message.
      expect(result).toEqual({
        status: 'not-accepted',
        reason: expect.stringContaining('secret function threw Error (E_VAULT)'),
      })
      expect(JSON.stringify(result)).not.toContain(leaked)
      expect(posted).toBe(0)
    })

    it.each([
      ['nothing', () => undefined, /gave undefined, not a whsec_… string/],
      ['a malformed secret', () => 'whsec_c2hvcnQ=', /unusable secret: .*at least 24 bytes/],
      ['a guessable secret', () => leaked, /unusable secret: .*guessable/],
    ])('that gives %s fails the send for good, not quoting it', async (_kind, given, reason) => {
      const { result, posted } = await sendWith(given)
      expect(result).toEqual({ status: 'permanent', reason: expect.stringMatching(reason) })
      const value = given()
      if (typeof value === 'string') expect(JSON.stringify(result)).not.toContain(value.slice(6))
      expect(posted).toBe(0)
    })

    it("that gives the endpoint's secret signs with it", async () => {
      const { result, posted } = await sendWith(async () => secret)
      expect(result).toEqual({ status: 'accepted' })
      expect(posted).toBe(1)
    })
  })

  describe('SSRF guard (on by default)', () => {
    const channel = webhookChannel({ secret })
    afterAll(() => channel.close())

    it.each([
      ['loopback', 'http://127.0.0.1:9/'],
      ['loopback in another form', 'http://127.1:9/'],
      ['a decimal loopback', 'http://2130706433:9/'],
      ['IPv6 loopback', 'http://[::1]:9/'],
      ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]:9/'],
      ['the unspecified address', 'http://0.0.0.0:9/'],
      ['an octal loopback', 'http://0177.0.0.1:9/'],
      ['a hexadecimal loopback', 'http://0x7f.1:9/'],
      ['the IPv6 unspecified address', 'http://[::]:9/'],
      ['IPv4-mapped loopback in hexadecimal', 'http://[::ffff:7f00:1]:9/'],
      ['NAT64 loopback', 'http://[64:ff9b::7f00:1]:9/'],
      ['the deprecated IPv4-compatible loopback', 'http://[::127.0.0.1]:9/'],
    ])('refuses %s as a literal address, before connecting', async (_kind, url) => {
      const before = receiver.requests.length
      const result = await channel.send(outgoing(url))
      expect(result).toMatchObject({
        status: 'permanent',
        reason: expect.stringMatching(/loopback|unspecified|IPv4-compatible/),
      })
      expect(receiver.requests.length).toBe(before)
    })

    it('refuses a name that resolves to a loopback address', async () => {
      const guarded = webhookChannel({ secret, lookup: lookupTo('127.0.0.1') })
      const port = receiver.port
      const before = receiver.requests.length
      const result = await guarded.send(outgoing(`http://hooks.partner.example:${port}/`))
      expect(result).toMatchObject({
        status: 'permanent',
        reason: expect.stringContaining('resolves to 127.0.0.1'),
      })
      expect(receiver.requests.length).toBe(before)
      await guarded.close()
    })

    it('connects to the address it checked: a name is looked up once per connection (no rebinding)', async () => {
      const rebinding = rebindingLookup('10.0.0.7')
      const guarded = webhookChannel({ secret, addressGuard: allowTestServer, lookup: rebinding })
      const message = outgoing(`http://rebind.example:${receiver.port}/hooks`)
      expect(await guarded.send(message)).toEqual({ status: 'accepted' })
      expect(rebinding.lookups()).toBe(1)
      expect(verified.at(-1)).toBe(message.id)
      await guarded.close()
    })

    it('refuses a name when any of its addresses is private (a mixed answer)', async () => {
      const guarded = webhookChannel({ secret, lookup: lookupTo('93.184.215.14', '10.0.0.7') })
      const result = await guarded.send(outgoing('http://mixed.example/'))
      expect(result).toMatchObject({
        status: 'permanent',
        reason: expect.stringContaining('10.0.0.7'),
      })
      await guarded.close()
    })

    it('refuses a redirect to another origin: the signed body never reaches it, to be replayed', async () => {
      // Both ports are allowed by the guard: only the origin tells them apart.
      const redirector = await startLocalServer((_request, response) => {
        response.statusCode = 307
        response.setHeader('location', `${receiver.url}/hook`)
        response.end()
      })
      const guarded = webhookChannel({ secret, addressGuard: allowTestServer })
      const before = receiver.requests.length
      const result = await guarded.send(outgoing(`${redirector.url}/hook`))
      expect(result).toEqual({
        status: 'permanent',
        reason: `redirected (307) to another origin (http://127.0.0.1:${receiver.port}); only redirects within ${redirector.url} are followed`,
      })
      expect(receiver.requests.length).toBe(before)
      await guarded.close()
      await redirector.close()
    })

    it('re-checks a redirect within the origin: its name may resolve to loopback the second time', async () => {
      const rebinding = rebindingLookup('127.0.0.3')
      const redirector = await startLocalServer((_request, response) => {
        response.statusCode = 308
        response.setHeader('location', '/next')
        // A new connection, so a new lookup.
        response.setHeader('connection', 'close')
        response.end()
      })
      const guarded = webhookChannel({ secret, addressGuard: allowTestServer, lookup: rebinding })
      const result = await guarded.send(outgoing(`http://hooks.example:${redirector.port}/`))
      expect(result).toMatchObject({
        status: 'permanent',
        reason: expect.stringContaining('resolves to 127.0.0.3'),
      })
      expect(redirector.requests.map((request) => request.url)).toEqual(['/'])
      await guarded.close()
      await redirector.close()
    })

    it('follows a redirect within the origin and posts the signed body again', async () => {
      const signed: string[] = []
      const moving = await startLocalServer((request, response) => {
        if (request.url === '/moved') {
          signed.push(verifyWebhook(secret, request.headers, request.body))
          response.statusCode = 204
        } else {
          response.statusCode = 307
          response.setHeader('location', '/moved')
        }
        response.end()
      })
      const guarded = webhookChannel({ secret, addressGuard: allowTestServer })
      const message = outgoing(`${moving.url}/`)
      expect(await guarded.send(message)).toEqual({ status: 'accepted' })
      expect(signed).toEqual([message.id])
      await guarded.close()
      await moving.close()
    })

    it('refuses non-http schemes and URLs with credentials', async () => {
      expect(await channel.send(outgoing('file:///etc/passwd'))).toMatchObject({
        status: 'permanent',
      })
      expect(await channel.send(outgoing('http://user:pass@example.com/'))).toMatchObject({
        status: 'permanent',
      })
    })
  })

  describe('results', () => {
    it.each([
      [500, 'transient'],
      [503, 'not-accepted'],
      [429, 'not-accepted'],
      [410, 'permanent'],
      [400, 'permanent'],
      // A redirect with no place to go: a 303 (or 301, 302) to a POST may follow work done.
      [303, 'transient'],
      [302, 'transient'],
      [307, 'permanent'],
    ])('maps HTTP %i to %s', async (status, expected) => {
      const server = await startLocalServer((_request, response) => {
        response.statusCode = status
        response.end('nope')
      })
      const channel = webhookChannel({ secret, addressGuard: allowTestServer })
      expect(await channel.send(outgoing(server.url))).toMatchObject({ status: expected })
      await channel.close()
      await server.close()
    })

    it('reports a receiver that is down as not-accepted', async () => {
      const channel = webhookChannel({ secret, addressGuard: allowTestServer })
      const port = await closedPort()
      expect(await channel.send(outgoing(`http://127.0.0.1:${port}/`))).toMatchObject({
        status: 'not-accepted',
        reason: expect.stringContaining('ECONNREFUSED'),
      })
      await channel.close()
    })

    it('reports a receiver that does not answer in time as transient (it may have processed it)', async () => {
      const server = await startLocalServer(() => {
        // never answers
      })
      const channel = webhookChannel({ secret, addressGuard: allowTestServer, timeoutMs: 150 })
      expect(await channel.send(outgoing(server.url))).toMatchObject({ status: 'transient' })
      await channel.close()
      await server.close()
    })
  })
})

channelConformance(vitest, 'webhook', async () => {
  const received: { key?: string }[] = []
  const server = await startLocalServer((request, response) => {
    received.push({ key: verifyWebhook(secret, request.headers, request.body) })
    response.statusCode = 200
    response.end()
  })
  const down = await closedPort()
  return {
    channel: webhookChannel({ secret, addressGuard: allowTestServer }),
    message: { type: 'conformance', data: { n: 1 } },
    to: `${server.url}/hook`,
    invalidTo: 'not a url',
    received: () => received,
    unreachable: {
      channel: webhookChannel({ secret, addressGuard: allowTestServer }),
      to: `http://127.0.0.1:${down}/`,
    },
    takesIdempotencyKey: true,
    dispose: () => server.close(),
  }
})
