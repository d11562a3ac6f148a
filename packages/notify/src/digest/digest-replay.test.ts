import { databaseToken, JOBS } from '@mortar/core'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import type { Kysely } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import type { Recipient } from '../notification/recipient.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { defineDigest } from './define-digest.js'
import { DIGEST_BATCH_TABLE, DIGEST_ITEM_TABLE } from './digest-store.js'

const MINUTE = 60_000

// Its template throws until the test fixes it.
let templateDown = true
const newsDigest = defineDigest({
  key: 'news',
  schema: z.object({ text: z.string() }),
  window: { minutes: 30 },
  channels: ['mail'],
  toMail: (items) => {
    if (templateDown) throw new Error('template down')
    return { subject: `${items.length} news`, text: items.map((item) => item.text).join('\n') }
  },
})

class News extends Notification {
  readonly type = 'news'
  readonly digest
  constructor(text: string) {
    super()
    this.digest = newsDigest.entry({ text })
  }
  via() {
    return [] as const
  }
}

/** The recipient's digest batches and their items, as stored. */
async function stored(db: Kysely<unknown>, recipientId: string) {
  const tables = db as Kysely<{
    mortar_digest_batch: { id: string; recipient_id: string }
    mortar_digest_item: { id: string; batch_id: string }
  }>
  const batches = await tables
    .selectFrom(DIGEST_BATCH_TABLE)
    .select('id')
    .where('recipient_id', '=', recipientId)
    .execute()
  const ids = batches.map((batch) => batch.id)
  const items =
    ids.length === 0
      ? []
      : await tables
          .selectFrom(DIGEST_ITEM_TABLE)
          .select('id')
          .where('batch_id', 'in', ids)
          .execute()
  return { batches: batches.length, items: items.length }
}

for (const engine of testEngines()) {
  const title = `a digest whose renderer threw, on ${engine.title}`
  if (engine.skip) console.info(`[skipped] ${title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(title, () => {
    let database: PrivateDatabaseUrl
    let app: TestApp
    const mailbox = devMailbox()

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      app = await startedNotifyTestApp(
        {
          channels: [mailChannel({ from: 'News <news@example.com>', transport: mailbox })],
          digests: [newsDigest],
        },
        database.url,
      )
    })
    afterAll(async () => {
      await app?.stop()
      await database?.drop()
    })

    it('is dead with the reason, keeps its items through a prune, and a replay once the renderer is fixed sends every item once', async () => {
      templateDown = true
      const ada: Recipient = { id: 'ada', email: 'ada@example.com' }
      const notifier = app.resolve(NOTIFIER)
      const deliveries = app.resolve(DELIVERIES)
      const db = app.resolve(databaseToken())
      const opened = app.clock.nowMs()
      await notifier.notify(ada, new News('one'))
      app.clock.advance(MINUTE)
      await notifier.notify(ada, new News('two'))

      // The batch closes (its job runs 10 minutes late) and its renderer throws.
      app.clock.advance(39 * MINUTE)
      await app.resolve(JOBS).drain()
      const [dead] = await deliveries.list('ada')
      expect(dead).toMatchObject({
        type: 'digest.news',
        channel: 'mail',
        status: 'dead',
        lastError: 'toMail() threw: template down',
      })
      const id = dead?.id ?? ''

      // A prune past the batch's close but not the dead delivery's keeps the batch's items.
      await deliveries.prune(new Date(opened + 35 * MINUTE))
      expect(await stored(db, 'ada')).toEqual({ batches: 1, items: 2 })

      // Still broken: refused by id with the reason, left dead by 'all-dead'.
      await expect(deliveries.replay(id)).rejects.toMatchObject({
        code: 'E_DELIVERY_NOT_REPLAYABLE',
        message: expect.stringContaining('toMail() threw: template down'),
      })
      expect(await deliveries.replay('all-dead')).toBe(0)
      expect(await deliveries.get(id)).toMatchObject({ status: 'dead' })

      templateDown = false
      expect(await deliveries.replay('all-dead')).toBe(1)
      await app.resolve(JOBS).drain()
      expect(await deliveries.get(id)).toMatchObject({ status: 'sent' })
      expect(mailbox.messages('ada@example.com').map((mail) => [mail.subject, mail.text])).toEqual([
        ['2 news', 'one\ntwo'],
      ])

      // Sent: the batch goes with the next prune past it.
      await deliveries.prune(new Date(opened + 35 * MINUTE))
      expect(await stored(db, 'ada')).toEqual({ batches: 0, items: 0 })
    })

    it('replays it by id once fixed, and a dead delivery pruned takes its batch with it', async () => {
      templateDown = true
      const bob: Recipient = { id: 'bob', email: 'bob@example.com' }
      const deliveries = app.resolve(DELIVERIES)
      const db = app.resolve(databaseToken())
      await app.resolve(NOTIFIER).notify(bob, new News('three'))
      app.clock.advance(30 * MINUTE)
      await app.resolve(JOBS).drain()
      const [dead] = await deliveries.list('bob')
      expect(dead).toMatchObject({ status: 'dead' })

      templateDown = false
      expect(await deliveries.replay(dead?.id ?? '')).toBe(1)
      await app.resolve(JOBS).drain()
      expect(mailbox.messages('bob@example.com').map((mail) => mail.text)).toEqual(['three'])

      // Dead again and pruned as a dead delivery is: its batch goes too.
      templateDown = true
      await app.resolve(NOTIFIER).notify(bob, new News('four'))
      app.clock.advance(30 * MINUTE)
      await app.resolve(JOBS).drain()
      expect(await stored(db, 'bob')).toEqual({ batches: 2, items: 2 })
      app.clock.advance(MINUTE)
      await deliveries.prune(new Date(app.clock.nowMs()))
      expect(await stored(db, 'bob')).toEqual({ batches: 0, items: 0 })
    })
  })
}
