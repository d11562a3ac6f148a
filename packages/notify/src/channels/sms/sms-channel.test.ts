import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { NotifyConfigError } from '../../errors.js'
import { closedPort, type LocalServer, startLocalServer } from '../../test-support/local-server.js'
import { channelConformance } from '../../testing/channel-conformance.js'
import type { Outgoing } from '../channel.js'
import { smsChannel } from './sms-channel.js'
import type { SmsMessage } from './sms-message.js'

const credentials = { accountSid: 'AC123', authToken: 'secret-token-1' }
const INVALID = '+15005550001'

/** A Twilio-shaped Messages API: basic auth, form body, 201 with a sid, 400/21211 for a bad number. */
async function startSmsProvider(): Promise<LocalServer> {
  return startLocalServer((request, response) => {
    response.setHeader('content-type', 'application/json')
    const auth = Buffer.from(`${credentials.accountSid}:${credentials.authToken}`).toString(
      'base64',
    )
    if (request.headers.authorization !== `Basic ${auth}`) {
      response.statusCode = 401
      return response.end('{"code":20003,"message":"Authenticate"}')
    }
    if (request.url !== `/2010-04-01/Accounts/${credentials.accountSid}/Messages.json`) {
      response.statusCode = 404
      return response.end('{}')
    }
    const form = new URLSearchParams(request.body)
    if (form.get('To') === INVALID) {
      response.statusCode = 400
      return response.end(
        '{"code":21211,"message":"The \'To\' number is not a valid phone number."}',
      )
    }
    response.statusCode = 201
    response.end(JSON.stringify({ sid: `SM${randomUUID().replaceAll('-', '')}`, status: 'queued' }))
  })
}

function outgoing(to: string): Outgoing<SmsMessage> {
  return {
    id: randomUUID(),
    to,
    message: { text: 'Your order shipped' },
    recipientId: 'u-1',
    type: 'order.shipped',
    attempt: 1,
    signal: new AbortController().signal,
  }
}

describe('smsChannel', () => {
  let provider: LocalServer
  beforeAll(async () => {
    provider = await startSmsProvider()
  })
  afterAll(() => provider.close())

  it('posts To, From and Body with basic auth and the delivery id as Idempotency-Key', async () => {
    const channel = smsChannel({ baseUrl: provider.url, ...credentials, from: '+15550100' })
    const message = outgoing('+15550199')
    const result = await channel.send(message)
    expect(result).toMatchObject({
      status: 'accepted',
      providerMessageId: expect.stringMatching(/^SM/),
    })
    const request = provider.requests.at(-1)
    expect(Object.fromEntries(new URLSearchParams(request?.body))).toEqual({
      To: '+15550199',
      From: '+15550100',
      Body: 'Your order shipped',
    })
    expect(request?.headers['idempotency-key']).toBe(message.id)
    await channel.close()
  })

  it('sends from a messaging service id as MessagingServiceSid', async () => {
    const channel = smsChannel({ baseUrl: provider.url, ...credentials, from: 'MG42' })
    await channel.send(outgoing('+15550199'))
    expect(new URLSearchParams(provider.requests.at(-1)?.body).get('MessagingServiceSid')).toBe(
      'MG42',
    )
    await channel.close()
  })

  it("reports the provider's refusal of a number as permanent, with its reason", async () => {
    const channel = smsChannel({ baseUrl: provider.url, ...credentials, from: '+15550100' })
    expect(await channel.send(outgoing(INVALID))).toMatchObject({
      status: 'permanent',
      reason: expect.stringContaining('21211'),
    })
    await channel.close()
  })

  it.each([
    ['an error body', '{"code":21211,"message":"Invalid \'To\' Phone Number","status":400}'],
    ['a page of a proxy', '<html><body>Service login</body></html>'],
    ['nothing', ''],
    ['a sid that is not text', '{"sid":null,"status":"queued"}'],
  ])(
    'reports a 2xx with %s, no message sid, as transient: the provider never said it took it',
    async (_kind, body) => {
      // Before, accepted: the delivery was sent, the SMS perhaps never. A retry goes under the
      // same Idempotency-Key, and no fallback provider takes it: never a second message.
      const odd = await startLocalServer((_request, response) => {
        response.statusCode = 200
        response.end(body)
      })
      const channel = smsChannel({ baseUrl: odd.url, ...credentials, from: '+15550100' })
      expect(await channel.send(outgoing('+15550199'))).toEqual({
        status: 'transient',
        reason: expect.stringMatching(/^HTTP 200 without a message sid/),
      })
      await channel.close()
      await odd.close()
    },
  )

  it('quotes no credential of a provider answer that echoes the request', async () => {
    // A gateway quoting the request it refused: the reason is stored, published and printed.
    const echo = await startLocalServer((request, response) => {
      response.statusCode = 400
      // The header straddles the cut of the reason to 200 characters.
      const quoted = `${credentials.authToken}${' '.repeat(140)}${request.headers.authorization}`
      response.end(JSON.stringify({ message: `bad request ${quoted}` }))
    })
    const channel = smsChannel({ baseUrl: echo.url, ...credentials, from: '+15550100' })
    const result = await channel.send(outgoing('+15550199'))
    expect(result).toMatchObject({
      status: 'permanent',
      reason: expect.stringContaining('HTTP 400'),
    })
    const basic = Buffer.from(`${credentials.accountSid}:${credentials.authToken}`).toString(
      'base64',
    )
    for (const secret of [credentials.authToken, basic.slice(0, 8)]) {
      expect(JSON.stringify(result)).not.toContain(secret)
    }
    await channel.close()
    await echo.close()
  })

  it('refuses a number that is not E.164 without calling the provider', async () => {
    const channel = smsChannel({ baseUrl: provider.url, ...credentials, from: '+15550100' })
    const before = provider.requests.length
    expect(await channel.send(outgoing('0612345678'))).toMatchObject({ status: 'permanent' })
    expect(provider.requests.length).toBe(before)
    await channel.close()
  })

  it('reports refused credentials as not-accepted, so a fallback provider may take it', async () => {
    const channel = smsChannel({
      baseUrl: provider.url,
      accountSid: 'AC123',
      authToken: 'wrong-token',
      from: '+15550100',
    })
    expect(await channel.send(outgoing('+15550199'))).toMatchObject({ status: 'not-accepted' })
    await channel.close()
  })

  it('refuses a baseUrl that would send the auth token in clear or carries credentials, quoting neither', () => {
    for (const baseUrl of [
      'http://api.twilio.com',
      'http://10.0.0.5:8080',
      'http://[::ffff:a00:5]',
      'ftp://api.twilio.com',
      'https://AC1:pasted-token@api.twilio.com',
    ]) {
      expect(() => smsChannel({ baseUrl, ...credentials, from: '+15550100' }), baseUrl).toThrow(
        NotifyConfigError,
      )
      try {
        smsChannel({ baseUrl, ...credentials, from: '+15550100' })
      } catch (error) {
        expect((error as Error).message).not.toContain('pasted-token')
      }
    }
    for (const baseUrl of [
      'https://api.twilio.com',
      'http://localhost:8080',
      'http://[::1]:8080',
    ]) {
      expect(() => smsChannel({ baseUrl, ...credentials, from: '+15550100' })).not.toThrow()
    }
  })

  it('quotes no baseUrl that is not a URL', () => {
    const create = () =>
      smsChannel({
        baseUrl: 'api.twilio.com?token=pasted-token',
        ...credentials,
        from: '+15550100',
      })
    expect(create).toThrow(/baseUrl is not a URL/)
    expect(create).not.toThrow(/pasted-token/)
  })

  it('refuses bad options at creation without echoing the token', () => {
    expect(() => smsChannel({ baseUrl: 'nope', ...credentials, from: '+15550100' })).toThrow(
      /baseUrl/,
    )
    expect(() =>
      smsChannel({
        baseUrl: provider.url,
        accountSid: 'AC1',
        authToken: 'short',
        from: '+15550100',
      }),
    ).toThrow(/at least 8/)
    expect(() => smsChannel({ baseUrl: provider.url, ...credentials, from: 'shop' })).toThrow(
      /E\.164/,
    )
    try {
      smsChannel({
        baseUrl: provider.url,
        accountSid: 'AC1',
        authToken: 'short',
        from: '+15550100',
      })
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('short')
    }
  })
})

channelConformance(vitest, 'sms', async () => {
  const provider = await startSmsProvider()
  const down = await closedPort()
  return {
    channel: smsChannel({ baseUrl: provider.url, ...credentials, from: '+15550100' }),
    message: { text: 'conformance' },
    to: '+15550123',
    invalidTo: INVALID,
    received: () =>
      provider.requests
        .filter((request) => new URLSearchParams(request.body).get('To') !== INVALID)
        .map((request) => ({ key: request.headers['idempotency-key'] as string | undefined })),
    unreachable: {
      channel: smsChannel({
        baseUrl: `http://127.0.0.1:${down}`,
        ...credentials,
        from: '+15550100',
      }),
      to: '+15550123',
    },
    takesIdempotencyKey: true,
    routed: {
      recipient: { id: 'u-1', phone: '+15550123' },
      address: '+15550123',
      unrouted: { id: 'u-2' },
    },
    dispose: () => provider.close(),
  }
})
