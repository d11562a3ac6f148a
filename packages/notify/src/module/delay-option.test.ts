import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { alertsModule } from '../alerts/alerts-module.js'
import { chatChannel } from '../channels/chat/chat-channel.js'
import { inboxHandler } from '../channels/inbox/inbox-handler.js'
import { smtpTransport } from '../channels/mail/smtp-transport.js'
import { smsChannel } from '../channels/sms/sms-channel.js'
import { generateWebhookSecret } from '../channels/webhook/standard-webhooks.js'
import { webhookChannel } from '../channels/webhook/webhook-channel.js'
import { NotifyConfigError } from '../errors.js'
import { notifyModule } from './notify-module.js'

const secret = generateWebhookSecret()

// Every option of notify that becomes a timer, built with one value.
const settings: Record<string, (ms: number) => unknown> = {
  'smsChannel timeoutMs': (timeoutMs) =>
    smsChannel({
      baseUrl: 'http://127.0.0.1:9',
      accountSid: 'AC1',
      authToken: 'secret-token-1',
      from: '+15550100',
      timeoutMs,
    }),
  'webhookChannel timeoutMs': (timeoutMs) => webhookChannel({ secret, timeoutMs }),
  'chatChannel timeoutMs': (timeoutMs) => chatChannel({ timeoutMs }),
  'smtpTransport timeoutMs': (timeoutMs) =>
    smtpTransport({ url: 'smtp://127.0.0.1:2525', timeoutMs }),
  'inboxHandler pollMs': (pollMs) => inboxHandler({ recipient: () => 'u1', pollMs }),
  'inboxHandler heartbeatSeconds': (ms) =>
    inboxHandler({ recipient: () => 'u1', heartbeatSeconds: ms / 1000 }),
  "notifyModule: a channel's sendTimeoutMs": (sendTimeoutMs) =>
    notifyModule({
      channels: [
        {
          name: 'sms',
          route: () => undefined,
          send: async () => ({ status: 'accepted' }),
          sendTimeoutMs,
        },
      ],
    }),
  'alertsModule checkEveryMs': (checkEveryMs) =>
    alertsModule({ admins: [{ id: 'admin', email: 'admin@example.com' }], checkEveryMs }),
}

describe('notify options that become timers', () => {
  for (const [name, build] of Object.entries(settings)) {
    it(`${name}: refuses NaN, a negative, zero, infinity or past 2^31 − 1 ms (a timer fires at once), keeps the rest`, () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.double({ max: 0.999 }),
            fc.double({ min: 2 ** 31, noNaN: true }),
            fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY),
          ),
          (ms) => {
            expect(() => build(ms)).toThrow(NotifyConfigError)
          },
        ),
      )
      expect(() => build(1_000)).not.toThrow()
      expect(() => build(2 ** 31 - 1_000)).not.toThrow()
    })
  }
})

describe("notifyModule's throttles", () => {
  it('refuses a window that is no whole number of milliseconds, and a limit that is no whole number', () => {
    const withThrottle = (throttle: { limit: number; windowMs: number }) =>
      notifyModule({
        channels: [
          { name: 'sms', route: () => undefined, send: async () => ({ status: 'accepted' }) },
        ],
        categories: { marketing: { throttle } },
      })
    // A fractional window's start is no bigint: PostgreSQL refused every throttled count.
    for (const windowMs of [1.5, 0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => withThrottle({ limit: 2, windowMs })).toThrow(NotifyConfigError)
    }
    for (const limit of [-1, 0.5, Number.NaN]) {
      expect(() => withThrottle({ limit, windowMs: 60_000 })).toThrow(NotifyConfigError)
    }
    expect(() => withThrottle({ limit: 0, windowMs: 60_000 })).not.toThrow()
  })
})
