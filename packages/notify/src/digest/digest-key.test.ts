import { databaseToken, JOBS, transaction } from '@mortar/core'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { commentDigest } from '../test-support/comment-digest.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { unsentDigestBatches } from './digest-store.js'

/** A comment that goes out in the digest, keyed by its id: a retried handler notifies it again. */
class KeyedComment extends Notification {
  readonly digest
  readonly key
  constructor(id: string) {
    super()
    this.key = `comment:${id}`
    this.digest = commentDigest.entry({ text: id })
  }
  via() {
    return [] as const
  }
}

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (printed); CI sets them.
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(`keyed digest items on ${engine.title}`, () => {
    let database: PrivateDatabaseUrl
    let app: TestApp
    const mailbox = devMailbox()

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      app = await startedNotifyTestApp(
        {
          channels: [mailChannel({ from: 'shop@example.com', transport: mailbox })],
          digests: [commentDigest],
        },
        database.url,
      )
    })
    afterAll(async () => {
      await app?.stop()
      await database?.drop()
    })

    it('adds an item of one idempotency key once, however often and concurrently notify() runs, before and after its batch went out', async () => {
      const notifier = app.resolve(NOTIFIER)
      const frank = { id: 'frank', email: 'frank@example.com' }
      const results = await Promise.all(
        ['c1', 'c1', 'c1', 'c2'].map((id) =>
          transaction(() => notifier.notify(frank, new KeyedComment(id))),
        ),
      )
      // A call that lost the race to add its key reports the item as the duplicate it is, with
      // the batch that has it (before, it reported 'digested', into a batch without it).
      const outcomes = results.map((r) => r.deliveries[0])
      expect(outcomes.map((outcome) => outcome?.status).sort()).toEqual([
        'digested',
        'digested',
        'duplicate',
        'duplicate',
      ])
      const batches = await unsentDigestBatches(app.resolve(databaseToken()), 'frank')
      expect(batches.filter((batch) => batch.items > 0).map((batch) => batch.id)).toEqual([
        ...new Set(outcomes.map((outcome) => outcome?.id)),
      ])
      await notifier.notify(frank, new KeyedComment('c2'))
      expect(await unsentDigestBatches(app.resolve(databaseToken()), 'frank')).toMatchObject([
        { items: 2 },
      ])

      app.clock.advance(30 * 60_000 + 1)
      await app.resolve(JOBS).drain()
      const mails = mailbox.messages('frank@example.com')
      expect(mails).toHaveLength(1)
      expect(mails[0]?.text?.split('\n').sort()).toEqual(['c1', 'c2'])

      // After the batch went out: still the same key, still once.
      const again = await notifier.notify(frank, new KeyedComment('c1'))
      expect(again.deliveries[0]?.status).toBe('duplicate')
      expect(await unsentDigestBatches(app.resolve(databaseToken()), 'frank')).toEqual([])
    })
  })
}
