import { randomUUID } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { closedPort, type LocalServer, startLocalServer } from '../../test-support/local-server.js'
import { ALERT_CATEGORY } from '../../alerts/admin-alert.js'
import { Notification } from '../../notification/notification.js'
import { addressOf, type Recipient } from '../../notification/recipient.js'
import { prepareMessage } from '../../notification/render.js'
import { channelConformance } from '../../testing/channel-conformance.js'
import type { Outgoing } from '../channel.js'
import { chatChannel } from './chat-channel.js'
import type { ChatMessage } from './chat-message.js'

const allowTestServer = { allow: ['127.0.0.1/32'] }

/** A Slack-style incoming webhook: 200 "ok", 404 "no_service" for unknown hooks. */
async function startChatServer(): Promise<LocalServer> {
  return startLocalServer((request, response) => {
    if (!request.url.startsWith('/services/')) {
      response.statusCode = 404
      return response.end('no_service')
    }
    response.statusCode = 200
    response.end('ok')
  })
}

function outgoing(
  to: string,
  message: ChatMessage = { text: 'Heap above 90%' },
): Outgoing<ChatMessage> {
  return {
    id: randomUUID(),
    to,
    message,
    recipientId: 'ops',
    type: 'alert',
    attempt: 1,
    signal: new AbortController().signal,
  }
}

describe('chatChannel', () => {
  let server: LocalServer
  beforeAll(async () => {
    server = await startChatServer()
  })
  afterAll(() => server.close())

  it('posts { text, blocks } as JSON to the incoming webhook', async () => {
    const channel = chatChannel({ addressGuard: allowTestServer })
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '*Heap*' } }]
    expect(
      await channel.send(outgoing(`${server.url}/services/T1/B1/x`, { text: 'Heap', blocks })),
    ).toEqual({
      status: 'accepted',
    })
    expect(JSON.parse(server.requests.at(-1)?.body ?? '')).toEqual({ text: 'Heap', blocks })
    await channel.close()
  })

  it("posts admin alerts without a room of their own to defaultUrl, never another notification: a user's is suppressed; a recipient's room comes first", async () => {
    const ops = 'https://hooks.example/services/ops'
    const channel = chatChannel({ defaultUrl: ops })
    const user: Recipient = { id: 'u1', email: 'u1@example.com' }
    class Mention extends Notification {
      readonly type = 'mention'
      via() {
        return ['chat'] as const
      }
      toChat() {
        return { text: 'You were mentioned' }
      }
    }
    expect(addressOf(user, channel, { category: ALERT_CATEGORY })).toBe(ops)
    expect(addressOf(user, channel, { category: 'default' })).toBeUndefined()
    expect(await prepareMessage(new Mention(), user, 'chat', channel, { locale: 'en' })).toEqual({
      ok: false,
      status: 'suppressed',
      reason: 'the recipient has no chat address',
    })
    fc.assert(
      fc.property(
        fc.string().filter((c) => c !== ALERT_CATEGORY),
        (category) => addressOf(user, channel, { category }) === undefined,
      ),
    )
    const own = 'https://hooks.example/services/u1'
    expect(addressOf({ ...user, routes: { chat: own } }, channel, { category: 'default' })).toBe(
      own,
    )
  })

  it('guards against private addresses like webhooks do', async () => {
    const channel = chatChannel()
    expect(await channel.send(outgoing(`${server.url}/services/x`))).toMatchObject({
      status: 'permanent',
      reason: expect.stringContaining('loopback'),
    })
    await channel.close()
  })

  it('refuses a defaultUrl it could never post to at creation, without quoting it', () => {
    for (const defaultUrl of [
      'hooks.slack.com/services/T0/B0/secret',
      'ftp://hooks.example/services/secret',
      'https://user:secret@hooks.example/services/x',
    ]) {
      // Before, accepted: every message to the room then died at its send.
      expect(() => chatChannel({ defaultUrl })).toThrow(
        expect.objectContaining({
          code: 'E_NOTIFY_CONFIG',
          message: expect.not.stringContaining('secret'),
        }),
      )
    }
    expect(() => chatChannel({ defaultUrl: '' })).not.toThrow()
  })

  it('refuses a message without text', async () => {
    const channel = chatChannel({ addressGuard: allowTestServer })
    expect(await channel.send(outgoing(`${server.url}/services/x`, { text: ' ' }))).toMatchObject({
      status: 'permanent',
    })
    await channel.close()
  })
})

channelConformance(vitest, 'chat', async () => {
  const server = await startChatServer()
  const down = await closedPort()
  return {
    channel: chatChannel({ addressGuard: allowTestServer }),
    message: { text: 'conformance' },
    to: `${server.url}/services/T/B/c`,
    invalidTo: `${server.url}/gone`,
    received: () => server.requests.filter((request) => request.url.startsWith('/services/')),
    unreachable: {
      channel: chatChannel({ addressGuard: allowTestServer }),
      to: `http://127.0.0.1:${down}/services/x`,
    },
    dispose: () => server.close(),
  }
})
