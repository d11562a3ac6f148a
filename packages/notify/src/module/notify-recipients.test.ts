import { databaseToken } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { Notification } from '../notification/notification.js'
import { unsentDigestBatches } from '../digest/digest-store.js'
import { commentDigest, NewComment } from '../test-support/comment-digest.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { NotificationFake } from '../testing/notification-fake.js'
import { DELIVERIES, NOTIFIER } from './notify-tokens.js'

class Shipped extends Notification {
  readonly type = 'order.shipped'
  via() {
    return ['mail'] as const
  }
  toMail() {
    return { subject: 'Shipped', text: 'On its way.' }
  }
}

// A list naming one recipient twice (the buyer who is also the seller, an admin who is also the
// owner): before, each entry was a delivery of its own, the same mail sent twice, and a digest
// got the item twice.
describe('notify() to a list naming one recipient twice', () => {
  it('sends each recipient one message per channel', async () => {
    const mailbox = devMailbox()
    const app = await startedNotifyTestApp(
      { channels: [mailChannel({ from: 'shop@example.com', transport: mailbox })] },
      'sqlite::memory:',
    )
    try {
      const ada = { id: 'ada', email: 'ada@example.com' }
      const result = await app
        .resolve(NOTIFIER)
        .notify([ada, { id: 'bob', email: 'bob@example.com' }, { ...ada }], new Shipped())
      expect(result.deliveries.map((d) => d.recipientId)).toEqual(['ada', 'bob'])
      expect(await app.resolve(DELIVERIES).list('ada')).toHaveLength(1)
    } finally {
      await app.stop()
    }
  })

  it('adds a digest item once for each recipient', async () => {
    const app = await startedNotifyTestApp(
      {
        channels: [mailChannel({ from: 'shop@example.com', transport: devMailbox() })],
        digests: [commentDigest],
      },
      'sqlite::memory:',
    )
    try {
      const ada = { id: 'ada', email: 'ada@example.com' }
      await app.resolve(NOTIFIER).notify([ada, ada], new NewComment('hello'))
      expect(await unsentDigestBatches(app.resolve(databaseToken()), 'ada')).toMatchObject([
        { items: 1 },
      ])
    } finally {
      await app.stop()
    }
  })

  it('records one send for each recipient in the fake, as the ledger does', async () => {
    const fake = new NotificationFake({
      channels: [mailChannel({ from: 'shop@example.com', transport: devMailbox() })],
    })
    const ada = { id: 'ada', email: 'ada@example.com' }
    await fake.notify([ada, ada], new Shipped())
    fake.assertSentTimes(Shipped, 1)
  })
})
