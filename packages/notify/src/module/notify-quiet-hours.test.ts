import { describe, expect, it } from 'vitest'
import { inboxChannel } from '../channels/inbox/inbox-channel.js'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { Notification } from '../notification/notification.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { NOTIFIER } from './notify-tokens.js'

class Shipped extends Notification {
  readonly type = 'order.shipped'
  via() {
    return ['mail', 'inbox'] as const
  }
  toMail() {
    return { subject: 'Shipped', text: 'On its way.' }
  }
  toInbox() {
    return { title: 'Shipped' }
  }
}

// A recipient's own quiet hours were read only as a replacement of the module's: a module with
// none sent to a recipient who had set theirs at once, in the middle of their night.
describe("a recipient's own quiet hours, the module setting none", () => {
  it('delay their deliveries (every channel but the inbox) to the end of their window', async () => {
    const app = await startedNotifyTestApp(
      {
        channels: [
          mailChannel({ from: 'shop@example.com', transport: devMailbox() }),
          inboxChannel(),
        ],
      },
      'sqlite::memory:',
    )
    try {
      // 23:30 in Paris.
      app.clock.set('2026-06-01T21:30:00Z')
      const night = {
        id: 'nia',
        email: 'nia@example.com',
        timeZone: 'Europe/Paris',
        quietHours: { start: '22:00', end: '07:00' },
      }
      const result = await app
        .resolve(NOTIFIER)
        .notify([night, { id: 'day', email: 'day@example.com' }], new Shipped())
      expect(
        result.deliveries.map((d) => [d.recipientId, d.channel, d.status, d.runAt?.toISOString()]),
      ).toEqual([
        ['nia', 'mail', 'queued', '2026-06-02T05:00:00.000Z'],
        ['nia', 'inbox', 'queued', undefined],
        ['day', 'mail', 'queued', undefined],
        ['day', 'inbox', 'queued', undefined],
      ])
    } finally {
      await app.stop()
    }
  })
})
