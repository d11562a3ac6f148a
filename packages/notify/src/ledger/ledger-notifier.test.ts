import { describe, expect, it } from 'vitest'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { NOTIFIER } from '../module/notify-tokens.js'
import { Notification, type RenderContext } from '../notification/notification.js'
import { notifyTestApp } from '../test-support/notify-test-app.js'
import { NotificationFake } from '../testing/notification-fake.js'

const zones: string[] = []

class Reminder extends Notification {
  via() {
    return ['mail'] as const
  }
  toMail(_recipient: unknown, context: RenderContext) {
    zones.push(context.timeZone)
    return { subject: 'Tomorrow at 08:00', text: `in ${context.timeZone}` }
  }
}

describe('the notifier renders in the zone it schedules in', () => {
  it("gives renderers the module's defaultTimeZone for a recipient without one, as quiet hours and digests use", async () => {
    const channels = [mailChannel({ from: 'shop@example.com', transport: devMailbox() })]
    const app = notifyTestApp({
      channels,
      defaultTimeZone: 'Asia/Kathmandu',
    })
    await app.migrate()
    await app.start()
    try {
      zones.length = 0
      const notifier = app.resolve(NOTIFIER)
      await notifier.notify({ id: 'ada', email: 'ada@example.com' }, new Reminder())
      await notifier.notify(
        { id: 'bob', email: 'bob@example.com', timeZone: 'Europe/Paris' },
        new Reminder(),
      )
      // Before, 'UTC': a time written in the mail was not the one the recipient was sent at.
      expect(zones).toEqual(['Asia/Kathmandu', 'Europe/Paris'])

      zones.length = 0
      const fake = new NotificationFake({ channels, defaultTimeZone: 'Asia/Kathmandu' })
      await fake.notify({ id: 'ada', email: 'ada@example.com' }, new Reminder())
      expect(zones).toEqual(['Asia/Kathmandu'])
      expect(
        () => new NotificationFake({ channels, defaultTimeZone: 'Mars/Olympus_Mons' }),
      ).toThrow(expect.objectContaining({ code: 'E_NOTIFY_CONFIG' }))
    } finally {
      await app.stop()
    }
  })
})
