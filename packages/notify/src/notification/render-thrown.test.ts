import { describe, expect, it } from 'vitest'
import { NOT_STORED } from '../digest/digest-notification.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { recordingChannel } from '../test-support/recording-channel.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { Notification } from './notification.js'

// An object without a prototype: String() of it throws, so a reason built with it made
// notify() reject instead of writing the delivery dead.
const NO_TEXT: unknown = Object.create(null)

class Thrower extends Notification {
  readonly type = 'thrower'
  via() {
    return ['sms'] as const
  }
  toSms(): { text: string } {
    throw NO_TEXT
  }
}

class Unserialisable extends Notification {
  readonly type = 'unserialisable'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return {
      text: 'hi',
      toJSON() {
        throw NO_TEXT
      },
    }
  }
}

describe('a renderer that throws a value with no text form', () => {
  for (const { notification, reason } of [
    { notification: new Thrower(), reason: 'toSms() threw: [object Object]' },
    {
      notification: new Unserialisable(),
      reason: 'toSms() returned a message that is not JSON: [object Object]',
    },
  ]) {
    it(`records the delivery dead with its reason (${notification.type})`, async () => {
      const sms = recordingChannel('sms', (recipient) => recipient.id)
      const app = await startedNotifyTestApp({ channels: [sms] }, 'sqlite::memory:')
      try {
        const { deliveries } = await app.resolve(NOTIFIER).notify({ id: 'ada' }, notification)
        expect(deliveries).toMatchObject([
          { channel: 'sms', status: 'dead', reason: `${reason}; ${NOT_STORED}` },
        ])
        expect(await app.resolve(DELIVERIES).get(deliveries[0]?.id ?? '')).toMatchObject({
          status: 'dead',
          lastError: expect.stringContaining(reason),
        })
        expect(sms.sent).toEqual([])
      } finally {
        await app.stop()
      }
    })
  }
})
