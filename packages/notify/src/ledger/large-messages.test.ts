import { testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import { inboxChannel } from '../channels/inbox/index.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { notifyAppOn } from '../test-support/notify-test-app.js'

class Newsletter extends Notification {
  constructor(readonly size: number) {
    super()
  }
  via() {
    return ['inbox'] as const
  }
  toInbox() {
    return { title: 'News', body: 'b'.repeat(this.size) }
  }
}

// Before, MySQL/MariaDB closed the connection (ECONNRESET) on a statement over its 16 MiB packet:
// a 100 KB message to 200 recipients failed the whole notify() there, and so did one message past
// what mediumtext holds, where PostgreSQL and SQLite stored them.
for (const engine of testEngines()) {
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(`large messages on ${engine.title}`, () => {
    const started = notifyAppOn(engine, { channels: [inboxChannel()] })

    it('writes a 100 KB message to 200 recipients', async () => {
      const app = started()
      const everyone = Array.from({ length: 200 }, (_, i) => ({ id: `reader-${i}` }))
      const result = await app.resolve(NOTIFIER).notify(everyone, new Newsletter(100_000))
      expect(result.deliveries.filter((d) => d.status === 'queued')).toHaveLength(200)
      expect(await app.resolve(DELIVERIES).list('reader-199')).toMatchObject([{ status: 'queued' }])
    })

    it('records a message over 10 MiB as dead with the reason, the same on every engine', async () => {
      const app = started()
      const result = await app
        .resolve(NOTIFIER)
        .notify([{ id: 'ada' }, { id: 'bob' }], new Newsletter(11 * 1024 * 1024))
      expect(result.deliveries.map((d) => d.status)).toEqual(['dead', 'dead'])
      const [row] = await app.resolve(DELIVERIES).list('ada')
      expect(row?.lastError).toMatch(/toInbox\(\) returned a message of over 10 MiB as JSON/)
    })
  })
}
