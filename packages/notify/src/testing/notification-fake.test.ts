import { createLogger, Database, transaction, useDefaultDatabase } from '@mortar/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { inboxChannel } from '../channels/inbox/inbox-channel.js'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { smsChannel } from '../channels/sms/sms-channel.js'
import { generateWebhookSecret } from '../channels/webhook/standard-webhooks.js'
import { webhookChannel } from '../channels/webhook/webhook-channel.js'
import { NotifyConfigError, NotifyRecipientError } from '../errors.js'
import { defineNotification } from '../notification/define-notification.js'
import { Notification, type RenderContext } from '../notification/notification.js'
import type { Recipient } from '../notification/recipient.js'
import { defineTranslations } from '../notification/translations.js'
import { commentDigest, NewComment } from '../test-support/comment-digest.js'
import { NotificationFake } from './notification-fake.js'

const messages = defineTranslations('en', {
  en: { shipped: (id: string) => `Order ${id} shipped` },
  fr: { shipped: (id: string) => `Commande ${id} expédiée` },
})

class OrderShipped extends Notification {
  readonly category = 'orders'
  constructor(readonly orderId: string) {
    super()
  }
  via(recipient: Recipient) {
    return recipient.phone ? (['mail', 'sms'] as const) : (['mail'] as const)
  }
  toMail(_recipient: Recipient, { locale }: RenderContext) {
    return { subject: messages.for(locale).shipped(this.orderId), text: 'On its way.' }
  }
  toSms() {
    return { text: `Order ${this.orderId} is on its way.` }
  }
}

const Welcome = defineNotification({
  type: 'user.welcome',
  schema: z.object({ name: z.string().min(1) }),
  channels: ['inbox'],
  toInbox: (data) => ({ title: `Welcome, ${data.name}` }),
})

// The app's channels, as its notifyModule has them: the fake routes and checks through them.
const channels = [
  mailChannel({ from: 'Shop <shop@example.com>', transport: devMailbox() }),
  smsChannel({
    baseUrl: 'http://127.0.0.1:9',
    accountSid: 'AC1',
    authToken: 'test-token',
    from: '+15550100',
  }),
  webhookChannel({ secret: generateWebhookSecret() }),
  inboxChannel(),
]

const ada: Recipient = { id: 'ada', email: 'ada@example.com', phone: '+15550100', locale: 'fr-CH' }
const bob: Recipient = { id: 'bob', email: 'bob@example.com' }

describe('NotificationFake', () => {
  it('records each recipient with typed access to every rendered message, in their locale', async () => {
    const fake = new NotificationFake({ channels })
    await fake.notify([ada, bob], new OrderShipped('o-1'))
    fake.assertSentTo(ada, OrderShipped)
    fake.assertSentTo(
      'bob',
      OrderShipped,
      (sent) => sent.message('mail').subject === 'Order o-1 shipped',
    )
    fake.assertSentTimes(OrderShipped, 2)
    const [toAda] = fake.sent(OrderShipped, ada)
    expect(toAda?.channels).toEqual(['mail', 'sms'])
    expect(toAda?.message('mail').subject).toBe('Commande o-1 expédiée')
    expect(toAda?.message('sms').text).toBe('Order o-1 is on its way.')
    expect(toAda?.notification.orderId).toBe('o-1')
    const [toBob] = fake.sent(OrderShipped, bob)
    expect(() => toBob?.message('sms')).toThrow(/did not go to 'bob' on 'sms'/)
  })

  it('fails each assertion with a message saying what was sent', async () => {
    const fake = new NotificationFake({ channels })
    fake.assertNothingSent()
    await fake.notify(bob, new Welcome({ name: 'Bob' }))
    expect(() => fake.assertNothingSent()).toThrow(/user\.welcome to 'bob'/)
    expect(() => fake.assertSentTo(ada, Welcome)).toThrow(
      /Expected user\.welcome to be sent to 'ada'; sent: user\.welcome to 'bob'/,
    )
    expect(() => fake.assertNotSentTo(bob, Welcome)).toThrow(/not to be sent to 'bob'/)
    expect(() => fake.assertSentTimes(Welcome, 2)).toThrow(/2 time\(s\), but it was 1/)
    fake.assertNotSentTo(ada, Welcome)
    fake.assertSentTo(bob, Welcome, (sent) => sent.message('inbox').title === 'Welcome, Bob')
    fake.reset()
    fake.assertNothingSent()
  })

  describe('in transactions', () => {
    let database: Database
    let release: () => void
    beforeAll(async () => {
      database = new Database({ url: 'sqlite::memory:', logger: createLogger({ level: 'silent' }) })
      await database.connect()
      release = useDefaultDatabase(database)
    })
    afterAll(async () => {
      release()
      await database.destroy()
    })

    it('records nothing for a rolled-back transaction, and records once it commits', async () => {
      const fake = new NotificationFake({ channels })
      await expect(
        transaction(async () => {
          await fake.notify(ada, new OrderShipped('o-2'))
          throw new Error('checkout failed')
        }),
      ).rejects.toThrow('checkout failed')
      fake.assertNothingSent()
      await transaction(async () => {
        await fake.notify(ada, new OrderShipped('o-3'))
        fake.assertNothingSent()
      })
      fake.assertSentTo(ada, OrderShipped, (sent) => sent.notification.orderId === 'o-3')
    })
  })

  it('refuses the recipients the real notify() refuses, recording nothing of the call', async () => {
    const fake = new NotificationFake({ channels })
    for (const bad of [
      { id: '' },
      { id: 'x'.repeat(192) },
      { id: 'kim', email: 'kim\u0000@example.com' },
      { id: 'kim', timeZone: 'Mars/Olympus_Mons' },
      { id: 'kim', quietHours: { start: '22:00', end: '7:00' } },
    ]) {
      await expect(fake.notify([bob, bad], new OrderShipped('o-2'))).rejects.toBeInstanceOf(
        NotifyRecipientError,
      )
    }
    fake.assertNothingSent()
  })

  it('counts as sent only what the ledger would send: a via() of no channel, or renderers that all fail, send nothing', async () => {
    class Quiet extends Notification {
      via() {
        return [] as const
      }
    }
    class AllBroken extends Notification {
      via() {
        return ['mail'] as const
      }
      toMail(): { subject: string } {
        throw new Error('template exploded')
      }
    }
    const fake = new NotificationFake({ channels, digests: [commentDigest] })
    await fake.notify(bob, new Quiet())
    await fake.notify(bob, new AllBroken())
    fake.assertNothingSent()
    fake.assertNotSentTo(bob, Quiet)
    fake.assertNotSentTo(bob, AllBroken)
    fake.assertSentTimes(AllBroken, 0)
    expect(fake.sent(AllBroken)).toEqual([])
    expect(() => fake.assertSentTo(bob, AllBroken)).toThrow(
      /nothing was sent; sent on no channel: .* to 'bob' \(toMail\(\) threw: template exploded\)/,
    )
    expect(() => fake.assertSentTo(bob, Quiet)).toThrow(/to 'bob'; nothing was sent;/)
    // A digest's notification goes out in the batch, whatever its via() says.
    await fake.notify(bob, new NewComment('first'))
    fake.assertSentTo(bob, NewComment)
    expect(() => fake.sent(NewComment, bob)[0]?.message('mail' as never)).toThrow(
      /joined the digest 'comments'/,
    )
  })

  it("refuses a notification that joins a digest the app's notify module lacks, as notify() does", async () => {
    // Before, the fake recorded it as sent where notify() throws E_NOTIFY_CONFIG.
    const fake = new NotificationFake({ channels })
    await expect(fake.notify(bob, new NewComment('first'))).rejects.toThrow(NotifyConfigError)
    await expect(fake.notify(bob, new NewComment('first'))).rejects.toThrow(
      /No digest 'comments' is registered/,
    )
    fake.assertNothingSent()
    const withDigest = new NotificationFake({ channels, digests: [commentDigest] })
    await withDigest.notify(bob, new NewComment('first'))
    withDigest.assertSentTo(bob, NewComment)
  })

  it('refuses the notification fields the real notify() refuses', async () => {
    class Keyed extends Notification {
      constructor(readonly key: string) {
        super()
      }
      via() {
        return ['inbox'] as const
      }
      toInbox() {
        return { title: 'keyed' }
      }
    }
    const fake = new NotificationFake({ channels })
    await expect(fake.notify(bob, new Keyed('k\u0000'))).rejects.toThrow(/Keyed\.key must be/)
    fake.assertNothingSent()
  })

  it('shows each message as its channel gets it: read back from the JSON the ledger stores', async () => {
    const at = new Date('2026-06-01T10:00:00Z')
    class Dated extends Notification {
      via() {
        return ['webhook'] as const
      }
      toWebhook() {
        return { type: 'dated', data: { at, gone: undefined } }
      }
    }
    const fake = new NotificationFake({ channels })
    const hooked = { id: 'bob', routes: { webhook: 'https://hooks.example/bob' } }
    await fake.notify(hooked, new Dated())
    const data = fake.sent(Dated, hooked)[0]?.message('webhook').data
    expect(data).toEqual({ at: '2026-06-01T10:00:00.000Z' })
  })

  it('reports a renderer that throws as dead, and the message access says why', async () => {
    class Broken extends Notification {
      via() {
        return ['mail', 'inbox'] as const
      }
      toMail(): { subject: string } {
        throw new Error('template exploded')
      }
      toInbox() {
        return { title: 'still here' }
      }
    }
    const fake = new NotificationFake({ channels })
    const result = await fake.notify(bob, new Broken())
    expect(result.deliveries.map((d) => [d.channel, d.status])).toEqual([
      ['mail', 'dead'],
      ['inbox', 'queued'],
    ])
    const [sent] = fake.sent(Broken)
    expect(() => sent?.message('mail')).toThrow(/template exploded/)
    expect(sent?.message('inbox').title).toBe('still here')
  })

  it('sends nothing where its channel would not: no address, a message the channel refuses, no such channel', async () => {
    class Announcement extends Notification {
      constructor(readonly subject: string) {
        super()
      }
      via() {
        return ['mail', 'sms', 'chat'] as const
      }
      toMail() {
        return { subject: this.subject, text: 'Hello.' }
      }
      toSms() {
        return { text: 'Hello.' }
      }
      toChat() {
        return { text: 'Hello.' }
      }
    }
    const fake = new NotificationFake({ channels })
    const kim = { id: 'kim', email: 'kim@example.com' }
    const result = await fake.notify(kim, new Announcement('Hi\r\nBcc: eve@example.com'))
    expect(result.deliveries.map((d) => [d.channel, d.status])).toEqual([
      ['mail', 'dead'],
      ['sms', 'suppressed'],
      ['chat', 'dead'],
    ])
    fake.assertNothingSent()
    expect(() => fake.assertSentTo(kim, Announcement)).toThrow(
      /line break.*no sms address.*no 'chat' channel/,
    )

    await fake.notify({ ...kim, phone: '+15550111' }, new Announcement('Hi'))
    const [sent] = fake.sent(Announcement, kim)
    expect(sent?.message('mail').subject).toBe('Hi')
    expect(sent?.message('sms').text).toBe('Hello.')
    expect(() => sent?.message('chat')).toThrow(/did not go out on 'chat'/)
  })

  it('refuses channels it cannot check messages with', () => {
    expect(() => new NotificationFake({ channels: [] })).toThrow(NotifyConfigError)
    expect(() => new NotificationFake({ channels: [inboxChannel(), inboxChannel()] })).toThrow(
      /NotificationFake: two 'inbox' channels/,
    )
  })

  it('records a keyed notification once per recipient and channel, as the ledger delivers it', async () => {
    class Receipt extends Notification {
      readonly key = 'receipt:o-1'
      via(recipient: Recipient) {
        return recipient.phone ? (['mail', 'sms'] as const) : (['mail'] as const)
      }
      toMail() {
        return { subject: 'Receipt', text: 'Paid.' }
      }
      toSms() {
        return { text: 'Paid.' }
      }
    }
    class KeyedComment extends NewComment {
      readonly key = 'comment:1'
    }
    const fake = new NotificationFake({ channels, digests: [commentDigest] })
    await fake.notify(bob, new Receipt())
    const again = await fake.notify([bob, ada], new Receipt())
    expect(again.deliveries.map((d) => [d.recipientId, d.channel, d.status])).toEqual([
      ['bob', 'mail', 'duplicate'],
      ['ada', 'mail', 'queued'],
      ['ada', 'sms', 'queued'],
    ])
    fake.assertSentTimes(Receipt, 2)
    await fake.notify(bob, new KeyedComment('first'))
    await fake.notify(bob, new KeyedComment('first'))
    fake.assertSentTimes(KeyedComment, 1)
    fake.reset()
    await fake.notify(bob, new Receipt())
    fake.assertSentTimes(Receipt, 1)
  })
})
