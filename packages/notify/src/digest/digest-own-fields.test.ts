import { createLogger, databaseToken } from '@mortar/core'
import {
  createTestApp,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { NotifyConfigError } from '../errors.js'
import { notifyModule } from '../module/notify-module.js'
import { NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import type { Recipient } from '../notification/recipient.js'
import { defineDigest } from './define-digest.js'
import { unsentDigestBatches } from './digest-store.js'

const mentions = defineDigest({
  key: 'mentions',
  category: 'social',
  schema: z.object({ text: z.string() }),
  window: { minutes: 30 },
  channels: ['mail'],
  toMail: (items) => ({ subject: `${items.length} mentions`, text: 'mentions' }),
})

/** A digested notification with a category of its own, or channels of its own. */
class Mention extends Notification {
  readonly type = 'mention'
  readonly digest = mentions.entry({ text: 'hi' })
  constructor(
    readonly category: string | undefined,
    readonly channels: readonly 'mail'[] = [],
  ) {
    super()
  }
  via() {
    return this.channels
  }
  toMail() {
    return { subject: 'mention', text: 'hi' }
  }
}

for (const engine of testEngines()) {
  const title = `a digested notification's own category and channels, on ${engine.title}`
  if (engine.skip) console.info(`[skipped] ${title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(title, () => {
    let database: PrivateDatabaseUrl
    let app: TestApp
    const ada: Recipient = { id: 'ada', email: 'ada@example.com' }

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      app = createTestApp({
        database: database.url,
        logger: createLogger({ level: 'silent' }),
        jobs: { engine: 'database', workers: false },
        modules: [
          notifyModule({
            channels: [mailChannel({ from: 'Shop <shop@example.com>', transport: devMailbox() })],
            digests: [mentions],
          }),
        ],
      })
      await app.migrate()
      await app.start()
    })
    afterAll(async () => {
      await app.stop()
      await database.drop()
    })

    // Sent under the digest's category, an opt-out of the notification's own would be ignored;
    // its own channels would never be sent: refused before anything is written.
    it('refuses a category other than the digest’s, and channels of its own, writing nothing', async () => {
      const notifier = app.resolve(NOTIFIER)
      const db = app.resolve(databaseToken())
      await expect(notifier.notify(ada, new Mention('comments'))).rejects.toThrow(NotifyConfigError)
      await expect(notifier.notify(ada, new Mention(undefined, ['mail']))).rejects.toThrow(
        /via\(\) returned mail/,
      )
      expect(await unsentDigestBatches(db, 'ada')).toEqual([])
    })

    it('takes the digest’s own category, or none, into the batch', async () => {
      const notifier = app.resolve(NOTIFIER)
      const db = app.resolve(databaseToken())
      await notifier.notify(ada, new Mention('social'))
      await notifier.notify(ada, new Mention(undefined))
      expect(await unsentDigestBatches(db, 'ada')).toMatchObject([{ status: 'open', items: 2 }])
    })
  })
}
