import { databaseToken, JOBS } from '@mortar/core'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { DIGEST_BATCH_TABLE, DIGEST_ITEM_TABLE } from '../digest/digest-store.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { commentsDigest, NewComment } from '../test-support/comment-digest.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { THROTTLE_TABLE } from './throttle-counter.js'

class Promo extends Notification {
  readonly category = 'marketing'
  via() {
    return ['mail'] as const
  }
  toMail() {
    return { subject: 'Sale', text: 'Half off.' }
  }
}

const HOUR = 3_600_000

for (const engine of testEngines()) {
  // Skipped only when this engine's MORTAR_TEST_*_URL variable is unset (printed); CI sets them.
  if (engine.skip) console.info(engine.skip)
  describe.skipIf(engine.skip !== undefined)(`deliveries.prune on ${engine.title}`, () => {
    let database: PrivateDatabaseUrl
    let app: TestApp

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      app = await startedNotifyTestApp(
        {
          channels: [mailChannel({ from: 'shop@example.com', transport: devMailbox() })],
          categories: { marketing: { throttle: { limit: 5, windowMs: HOUR } } },
          digests: [commentsDigest(30)],
        },
        database.url,
      )
    })
    afterAll(async () => {
      await app?.stop()
      await database?.drop()
    })

    const rows = async (table: string) => {
      const db = app.resolve(databaseToken()) as Kysely<Record<string, unknown>>
      const [row] = await db.selectFrom(table).select(sql<number>`count(*)`.as('n')).execute()
      return Number(row?.n)
    }

    it('refuses a page size or a prune date that would reach the database as garbage', async () => {
      const deliveries = app.resolve(DELIVERIES)
      // NaN reached the driver as the SQL limit; a fraction, 0 or -1 were sent or clamped silently;
      // an invalid date deleted nothing and answered 0.
      for (const limit of [Number.NaN, 1.5, 0, -1, Number.POSITIVE_INFINITY]) {
        await expect(deliveries.list('ada', { limit })).rejects.toMatchObject({
          code: 'E_VALIDATION',
        })
        await expect(deliveries.dead(limit)).rejects.toMatchObject({ code: 'E_VALIDATION' })
      }
      await expect(deliveries.prune(new Date(Number.NaN))).rejects.toMatchObject({
        code: 'E_VALIDATION',
      })
      expect(await deliveries.list('ada', { limit: 1 })).toEqual([])
    })

    it('deletes with the finished deliveries the digest batches that went out and the throttle windows that ended, nothing still in use', async () => {
      const notifier = app.resolve(NOTIFIER)
      const deliveries = app.resolve(DELIVERIES)
      const drain = () => app.resolve(JOBS).drain()
      await notifier.notify({ id: 'dan', email: 'dan@example.com' }, new Promo())
      await notifier.notify({ id: 'frank', email: 'frank@example.com' }, new NewComment('one'))
      await notifier.notify({ id: 'frank', email: 'frank@example.com' }, new NewComment('two'))
      await drain()
      app.clock.advance(30 * 60_000 + 1)
      await drain() // frank's batch closes and goes out as one mail
      await notifier.notify({ id: 'gus', email: 'gus@example.com' }, new NewComment('open'))
      expect([await rows(DIGEST_BATCH_TABLE), await rows(DIGEST_ITEM_TABLE)]).toEqual([2, 3])
      expect(await rows(THROTTLE_TABLE)).toBe(1)

      // dan's hour has not ended: its window still counts; gus's batch is open.
      await deliveries.prune(app.clock.now())
      expect([await rows(DIGEST_BATCH_TABLE), await rows(DIGEST_ITEM_TABLE)]).toEqual([1, 1])
      expect(await rows(THROTTLE_TABLE)).toBe(1)

      app.clock.advance(HOUR)
      await deliveries.prune(app.clock.now())
      expect(await rows(THROTTLE_TABLE)).toBe(0)
      expect([await rows(DIGEST_BATCH_TABLE), await rows(DIGEST_ITEM_TABLE)]).toEqual([1, 1])
    })
  })
}
