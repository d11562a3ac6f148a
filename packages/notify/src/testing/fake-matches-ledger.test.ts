import { JOBS } from '@mortar/core'
import { type TestApp, testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import type { CategoryOptions } from '../preferences/preference-policy.js'
import { DELIVERIES, NOTIFIER, PREFERENCES } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { type Recipient, route } from '../notification/recipient.js'
import { notifyAppOn } from '../test-support/notify-test-app.js'
import { Promo } from '../test-support/promo.js'
import { recordingChannel } from '../test-support/recording-channel.js'
import { NotificationFake } from './notification-fake.js'

class LoginCode extends Notification {
  readonly type = 'login-code'
  readonly category = 'security'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'Your code: 123456' }
  }
}

class Receipt extends Notification {
  readonly type = 'receipt'
  readonly category = 'orders'
  constructor(readonly key?: string) {
    super()
  }
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'Thanks for your order.' }
  }
}

const categories: Record<string, CategoryOptions> = {
  security: { critical: true },
  orders: { required: true },
  marketing: { throttle: { limit: 2, windowMs: 86_400_000 } },
}

const deleted = new Set(['gone'])

/** One scenario: what a recipient chose, then what the app notifies. */
interface Scenario {
  readonly title: string
  readonly recipient: Recipient
  readonly optOut?: { readonly category: string; readonly channel?: 'sms' }
  readonly notifications: () => readonly Notification[]
  /** What goes out, by type, as the module's rules say. */
  readonly sends: Readonly<Record<string, number>>
}

const phone = (id: string, extra: Partial<Recipient> = {}): Recipient => ({
  id,
  phone: '+15550100',
  ...extra,
})

const SCENARIOS: readonly Scenario[] = [
  {
    title: 'an opt-out of a category',
    recipient: phone('opted-out'),
    optOut: { category: 'marketing' },
    notifications: () => [new Promo()],
    sends: {},
  },
  {
    title: 'an opt-out of everything on the channel, beside a critical and a required category',
    recipient: phone('all-off'),
    optOut: { category: '*', channel: 'sms' },
    notifications: () => [new Promo(), new LoginCode(), new Receipt()],
    sends: { 'login-code': 1, receipt: 1 },
  },
  {
    title: 'an idempotency key given twice',
    recipient: phone('keyed'),
    notifications: () => [new Receipt('r-1'), new Receipt('r-1'), new Receipt('r-2')],
    sends: { receipt: 2 },
  },
  {
    title: 'an on-demand route',
    recipient: route('sms', '+15550123'),
    notifications: () => [new Receipt(), new Promo()],
    sends: { receipt: 1, promo: 1 },
  },
  {
    title: 'quiet hours (delayed, not dropped)',
    recipient: phone('night', { quietHours: { start: '09:00', end: '11:00' }, timeZone: 'UTC' }),
    notifications: () => [new Promo(), new LoginCode()],
    sends: { promo: 1, 'login-code': 1 },
  },
  {
    title: 'a throttle of 2 a day',
    recipient: phone('busy'),
    notifications: () => [new Promo(), new Promo(), new Promo(), new Receipt()],
    sends: { promo: 2, receipt: 1 },
  },
  {
    title: 'a recipient the app deleted',
    recipient: phone('gone'),
    notifications: () => [new Receipt(), new LoginCode()],
    sends: {},
  },
]

/** How many messages of each type went out on sms through the ledger, once its jobs ran. */
async function ledgerSent(app: TestApp, recipientId: string): Promise<Record<string, number>> {
  await app.resolve(JOBS).drain()
  // Past any quiet hours: a held delivery goes out at their end.
  app.clock.advance(3 * 3_600_000)
  await app.resolve(JOBS).drain()
  const sent: Record<string, number> = {}
  for (const delivery of await app.resolve(DELIVERIES).list(recipientId)) {
    if (delivery.status === 'sent') sent[delivery.type] = (sent[delivery.type] ?? 0) + 1
  }
  return sent
}

/** The same, as the fake recorded it. */
function fakeSent(fake: NotificationFake, recipientId: string): Record<string, number> {
  const sent: Record<string, number> = {}
  for (const type of [Promo, LoginCode, Receipt]) {
    for (const entry of fake.sent(type as new () => Notification, recipientId)) {
      try {
        entry.message('sms' as never)
        const name = (entry.notification as unknown as { type: string }).type
        sent[name] = (sent[name] ?? 0) + 1
      } catch {
        // not sent on sms
      }
    }
  }
  return sent
}

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(
    `NotificationFake and the ledger, on ${engine.title}`,
    () => {
      const sms = recordingChannel('sms', (recipient) => recipient.phone)
      const recipientExists = (id: string) => !deleted.has(id)
      const started = notifyAppOn(engine, { channels: [sms], categories, recipientExists })

      for (const scenario of SCENARIOS) {
        it(`send the same for ${scenario.title}`, async () => {
          const app = started()
          app.clock.set('2026-06-01T10:00:00Z')
          const { recipient, optOut } = scenario
          if (optOut !== undefined)
            await app.resolve(PREFERENCES).set(recipient.id, {
              ...optOut,
              enabled: false,
            })
          // The fake, given what the module has: before, it took the channels only and recorded
          // opted-out, throttled and deleted recipients' messages as sent.
          const fake = new NotificationFake({
            channels: [sms],
            categories,
            preferences: app.resolve(PREFERENCES),
            recipientExists,
            clock: app.clock,
          })
          for (const notification of scenario.notifications()) {
            await app.resolve(NOTIFIER).notify(recipient as never, notification as never)
            await fake.notify(recipient as never, notification as never)
          }
          expect(await ledgerSent(app, recipient.id), 'the ledger').toEqual(scenario.sends)
          expect(fakeSent(fake, recipient.id), 'the fake').toEqual(scenario.sends)
        })
      }
    },
  )
}
