import { JOBS } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { inboxChannel } from '../channels/inbox/inbox-channel.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import type { Recipient } from '../notification/recipient.js'
import { notifyAppOn } from '../test-support/notify-test-app.js'

class Announcement extends Notification {
  readonly type = 'announcement'
  constructor(readonly key?: string) {
    super()
  }
  via() {
    return ['inbox'] as const
  }
  toInbox() {
    return { title: 'We moved' }
  }
}

// More deliveries than one statement's values can carry (a row and its job take about 22; SQLite
// takes 32,766 values a statement, PostgreSQL 65,535; MariaDB's driver writes them in the text).
const everyone: Recipient[] = Array.from({ length: 4_000 }, (_, i) => ({ id: `user-${i}` }))

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (printed); CI sets them.
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(`notify() to thousands on ${engine.title}`, () => {
    const started = notifyAppOn(engine, { channels: [inboxChannel()] })

    it('writes a delivery and a job for each recipient, keyed or not, in one transaction', async () => {
      // Before, one statement took them all and the database refused it: nothing was written.
      const app = started()
      const notifier = app.resolve(NOTIFIER)
      const plain = await notifier.notify(everyone, new Announcement())
      expect(plain.deliveries.filter((d) => d.status === 'queued')).toHaveLength(everyone.length)
      const keyed = await notifier.notify(everyone, new Announcement('moved'))
      expect(keyed.deliveries.filter((d) => d.status === 'queued')).toHaveLength(everyone.length)
      const again = await notifier.notify(everyone, new Announcement('moved'))
      expect(again.deliveries.filter((d) => d.status === 'duplicate')).toHaveLength(everyone.length)
      // Each duplicate names the delivery that has its key.
      expect(again.deliveries.map((d) => d.id)).toEqual(keyed.deliveries.map((d) => d.id))
      const { counts } = await app.resolve(JOBS).status()
      expect(counts.reduce((sum, count) => sum + count.count, 0)).toBe(2 * everyone.length)
      expect(await app.resolve(DELIVERIES).list('user-3999')).toHaveLength(2)
    })
  })
}
