import { JOBS } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { INBOX } from '../channels/inbox/inbox-channel.js'
import { inboxChannel } from '../channels/inbox/index.js'
import { DevMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { notifyAppOn } from '../test-support/notify-test-app.js'
import { recordingChannel } from '../test-support/recording-channel.js'
import { NotificationFake } from '../testing/notification-fake.js'
import { Notification } from './notification.js'

class Shipped extends Notification {
  readonly type = 'shipped'
  constructor(readonly subject: string) {
    super()
  }
  via() {
    return ['mail', 'sms', 'inbox'] as const
  }
  toMail() {
    return { subject: this.subject, text: 'On its way.' }
  }
  toSms() {
    return { text: 'On its way.' }
  }
  toInbox() {
    return { title: 'Shipped' }
  }
}

// How a channel's check may refuse the sms message, and the reason the delivery then has.
const REFUSALS: readonly {
  readonly what: string
  readonly validate: () => unknown
  readonly reason: string
}[] = [
  {
    what: 'returns a reason',
    validate: () => 'text: too long for one message',
    reason: 'text: too long for one message',
  },
  {
    // A schema's parse() throws: before, the throw failed the whole notify() (every channel).
    what: 'throws (a schema that parses)',
    validate: () => {
      throw new Error('Expected string, received number at "text"')
    },
    reason: `the 'sms' channel's validate() threw: Expected string, received number at "text"`,
  },
  {
    // Before, a reason of another type than text was stored as is (or crashed the notify()).
    what: 'returns something other than a reason',
    validate: () => false,
    reason: `the 'sms' channel's validate() returned a boolean, not a reason nor undefined: refused`,
  },
  {
    what: 'returns an empty reason',
    validate: () => '',
    reason: `the 'sms' channel refused the message without saying why`,
  },
]

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(
    `a message its channel refuses, on ${engine.title}`,
    () => {
      const mailbox = new DevMailbox()
      const sms = recordingChannel('sms', (recipient) => recipient.phone)
      const started = notifyAppOn(engine, {
        channels: [
          mailChannel({ from: 'Shop <no-reply@shop.example>', transport: mailbox }),
          sms,
          inboxChannel(),
        ],
      })

      it('is dead with the reason when written, and the other channels are still sent', async () => {
        const app = started()
        const ada = { id: 'ada', email: 'ada@example.com', phone: '+15550100' }
        // The mail channel's own check: a subject with a line break (a header injection).
        const result = await app
          .resolve(NOTIFIER)
          .notify(ada, new Shipped('Hi\r\nBcc: x@evil.example'))
        expect(result.deliveries.map((d) => [d.channel, d.status])).toEqual([
          ['mail', 'dead'],
          ['sms', 'queued'],
          ['inbox', 'queued'],
        ])
        expect(result.deliveries[0]?.reason).toMatch(/subject/i)
        await app.resolve(JOBS).drain()
        expect(sms.sent).toHaveLength(1)
        expect(mailbox.messages()).toHaveLength(0)
        const mail = (await app.resolve(DELIVERIES).list('ada')).find((d) => d.channel === 'mail')
        expect(mail).toMatchObject({ status: 'dead', lastError: expect.stringMatching(/subject/i) })
      })

      for (const { what, validate, reason } of REFUSALS) {
        it(`is dead with a clear reason when the channel's check ${what}, the others still sent`, async () => {
          const app = started()
          const recipient = { id: `bob-${what}`, email: 'bob@example.com', phone: '+15550101' }
          sms.validate = validate as never
          try {
            const result = await app.resolve(NOTIFIER).notify(recipient, new Shipped('Hello'))
            expect(result.deliveries.map((d) => [d.channel, d.status, d.reason])).toEqual([
              ['mail', 'queued', undefined],
              ['sms', 'dead', expect.stringContaining(reason)],
              ['inbox', 'queued', undefined],
            ])
            const sent = sms.sent.length
            const mails = mailbox.messages().length
            await app.resolve(JOBS).drain()
            expect(sms.sent).toHaveLength(sent)
            expect(mailbox.messages()).toHaveLength(mails + 1)
            expect((await app.resolve(INBOX).counts(recipient.id)).unread).toBe(1)
            // The fake decides as the ledger does: the sms is not sent, with the same reason.
            const fake = new NotificationFake({ channels: [sms] })
            await fake.notify(recipient, new Shipped('Hello'))
            expect(fake.sent(Shipped, recipient)).toHaveLength(0)
          } finally {
            sms.validate = undefined
          }
        })
      }
    },
  )
}
