import { JOBS } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DELIVERIES, NOTIFIER } from '../../module/notify-tokens.js'
import { Notification } from '../../notification/notification.js'
import { notifyAppOn } from '../../test-support/notify-test-app.js'
import { type SmtpTestServer, startSmtpTestServer } from '../../test-support/smtp-test-server.js'
import { fallbackChannel } from '../fallback-channel.js'
import type { Recipient } from '../../notification/recipient.js'
import type { Outgoing } from '../channel.js'
import { type MailChannel, mailChannel } from './mail-channel.js'
import type { MailMessage } from './mail-message.js'
import { smtpTransport } from './smtp-transport.js'

class Invoice extends Notification {
  readonly type = 'invoice'
  via() {
    return ['mail'] as const
  }
  toMail() {
    return {
      subject: 'Your invoice',
      text: 'Attached.',
      cc: ['Boss <Boss@Example.com>'],
      bcc: ['archive@example.com'],
    }
  }
}

for (const engine of testEngines()) {
  if (engine.skip) console.info(`[skipped] mail fallback on ${engine.title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(`mail through a fallback on ${engine.title}`, () => {
    let servers: SmtpTestServer[] = []
    beforeAll(async () => {
      servers = [await startSmtpTestServer(), await startSmtpTestServer()]
    })
    const providers = [0, 1].map((index) => {
      // The servers start before the app's beforeAll: their URLs are read at the first send.
      let channel: MailChannel | undefined
      return {
        name: 'mail' as const,
        route: (recipient: Recipient) => recipient.email,
        send: (outgoing: Outgoing<MailMessage>) => {
          channel ??= mailChannel({
            from: 'shop@example.com',
            transport: smtpTransport({ url: servers[index]?.url as string }),
          })
          return channel.send(outgoing)
        },
        close: async () => channel?.close(),
      }
    })
    const app = notifyAppOn(engine, { channels: [fallbackChannel(providers)] })
    afterAll(() => Promise.all(servers.map((server) => server.close())))

    it('sends the next provider only the recipient the first refused for good, not the cc and bcc it took', async () => {
      const [first, second] = servers as [SmtpTestServer, SmtpTestServer]
      // The first provider's server refuses ada (its suppression list), and takes the others.
      first.rcptReplies.set('ada@example.com', { code: 550, text: 'Recipient suppressed' })
      await app().resolve(NOTIFIER).notify({ id: 'ada', email: 'ada@example.com' }, new Invoice())
      await app().resolve(JOBS).drain()
      // (nodemailer writes the domain in lower case in the envelope.)
      expect(first.envelopes).toEqual([['Boss@example.com', 'archive@example.com']])
      // Before, the second got all three: boss and the archive had the invoice twice.
      expect(second.envelopes).toEqual([['ada@example.com']])
      expect(second.mails[0]?.subject).toBe('Your invoice')
      const [delivery] = await app().resolve(DELIVERIES).list('ada')
      expect(delivery?.status).toBe('sent')
    })
  })
}
