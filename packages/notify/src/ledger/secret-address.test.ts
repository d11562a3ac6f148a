import { createLogger, JOBS } from '@mortar/core'
import { createTestApp, type TestApp } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chatChannel } from '../channels/chat/chat-channel.js'
import { notifyModule } from '../module/notify-module.js'
import { DELIVERIES } from '../module/notify-tokens.js'
import { notify } from '../module/running-notifiers.js'
import { Notification } from '../notification/notification.js'
import { route } from '../notification/recipient.js'
import { shownAddress } from '../notification/shown-address.js'
import { type RecordingChannel, recordingChannel } from '../test-support/recording-channel.js'

class Deployed extends Notification {
  readonly type = 'deployed'
  via() {
    return ['webhook'] as const
  }
  toWebhook() {
    return { type: 'deployed', data: {} }
  }
}

class Paged extends Notification {
  readonly type = 'paged'
  via() {
    return ['chat'] as const
  }
  toChat() {
    return { text: 'paged' }
  }
}

// Incoming-webhook URLs: whoever reads one can post to the room.
const SLACK = 'https://hooks.slack.com/services/T000/B000/SECRETslackTOKEN'
const HOOK = 'https://user:SECRETpass@hooks.example.com/in?token=SECRETquery'

describe('secret-bearing addresses in the delivery ledger', () => {
  let app: TestApp
  let webhook: RecordingChannel<'webhook'>

  beforeAll(async () => {
    webhook = recordingChannel('webhook', () => undefined)
    app = createTestApp({
      database: 'sqlite::memory:',
      logger: createLogger({ level: 'silent' }),
      jobs: { workers: false },
      modules: [notifyModule({ channels: [webhook, chatChannel({ defaultUrl: SLACK })] })],
    })
    await app.migrate()
    await app.start()
  })
  afterAll(() => app.stop())

  it('sends to the whole URL but never shows its path, query or credentials', async () => {
    const owner = { id: 'team-1', routes: { webhook: HOOK } }
    const onDemand = route('webhook', SLACK)
    await notify([owner, onDemand], new Deployed())
    // A chat URL no channel can post to is dead with a reason, which must not quote it either.
    await notify({ id: 'team-2', routes: { chat: 'ftp://files.example/SECRETftp' } }, new Paged())
    await app.resolve(JOBS).drain()

    expect(webhook.sent.map((s) => s.to).sort()).toEqual([HOOK, SLACK].sort())
    expect(onDemand.id).not.toContain('SECRET')
    const deliveries = app.resolve(DELIVERIES)
    const records = [
      ...(await deliveries.list('team-1')),
      ...(await deliveries.list(onDemand.id)),
      ...(await deliveries.list('team-2')),
    ]
    expect(records.map((r) => r.status).sort()).toEqual(['dead', 'sent', 'sent'])
    expect(records.map((r) => r.address).sort()).toEqual([
      'ftp://files.example/…',
      'https://hooks.example.com/…',
      'https://hooks.slack.com/…',
    ])
    expect(JSON.stringify(records)).not.toContain('SECRET')
    expect(JSON.stringify(await deliveries.status())).not.toContain('SECRET')
  })

  it('keeps two URLs on one host two on-demand recipients', () => {
    const a = route('chat', `${SLACK}a`)
    const b = route('chat', `${SLACK}b`)
    expect(a.id).not.toBe(b.id)
    expect(route('chat', `${SLACK}a`).id).toBe(a.id)
  })

  it('shows mail addresses, phone numbers and ids as they are', () => {
    for (const address of ['ada@example.com', '+15550100', 'user:1', 'mailto:ada@example.com']) {
      expect(shownAddress(address)).toBe(address)
    }
  })
})
