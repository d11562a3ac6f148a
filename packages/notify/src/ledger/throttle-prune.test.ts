import { databaseToken, defineJob, JOBS } from '@mortar/core'
import { testEngines } from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { NOTIFY_JOBS } from '../module/notify-module.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { notifyAppOn } from '../test-support/notify-test-app.js'
import { Promo } from '../test-support/promo.js'
import { recordingChannel } from '../test-support/recording-channel.js'
import { THROTTLE_TABLE } from './throttle-counter.js'

// The prune schedule's tick job under its own name, as the schedule enqueues it.
const pruneTick = defineJob({
  name: NOTIFY_JOBS.throttlePrune,
  schema: z.object({ at: z.string() }),
  handler: () => undefined,
})
const HOUR = 3_600_000

for (const engine of testEngines()) {
  if (engine.skip) console.info(`[skipped] throttle prune on ${engine.title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(`throttle prune on ${engine.title}`, () => {
    const app = notifyAppOn(engine, {
      channels: [recordingChannel('sms', (recipient) => recipient.phone)],
      categories: { marketing: { throttle: { limit: 1, windowMs: HOUR } } },
    })
    const db = () =>
      app().resolve(databaseToken()) as Kysely<{
        mortar_notify_throttle: {
          recipient_id: string
          category: string
          channel: string
          window_start: number
          count: number
        }
      }>
    const windows = async () =>
      (
        await db()
          .selectFrom(THROTTLE_TABLE)
          .select(['recipient_id', sql<number>`count(*)`.as('n')])
          .groupBy('recipient_id')
          .execute()
      ).map((row) => [row.recipient_id, Number(row.n)])

    it('deletes the ended windows on its hourly schedule, by batches, and keeps the current ones counting', async () => {
      const ada = { id: 'ada', phone: '+15550100' }
      const now = app().clock.now().getTime() // 10:00, a window's start
      await app().resolve(NOTIFIER).notify(ada, new Promo())
      await app().resolve(JOBS).drain()
      // Ended windows of more keys than one batch deletes, of ada too, and of a category no
      // longer throttled whose window began before now.
      const ended = Array.from({ length: 1_004 }, (_, n) => ({
        recipient_id: `old-${n % 2}`,
        category: 'marketing',
        channel: 'sms',
        window_start: now - (n + 1) * HOUR,
        count: 3,
      }))
      ended.push({ ...(ended[0] as (typeof ended)[number]), recipient_id: 'ada' })
      ended.push({ ...(ended[0] as (typeof ended)[number]), category: 'gone', window_start: now })
      for (let start = 0; start < ended.length; start += 250) {
        await db()
          .insertInto(THROTTLE_TABLE)
          .values(ended.slice(start, start + 250))
          .execute()
      }
      app().clock.advance(HOUR / 2)
      const at = app().clock.now()
      await app().resolve(JOBS).enqueue(pruneTick, { at: at.toISOString() })
      await app().resolve(JOBS).drain()
      // Before, nothing went unless the app called deliveries.prune itself.
      expect(await windows()).toEqual([['ada', 1]])

      // ada's window still counts: her second promo of the hour is throttled.
      await app().resolve(NOTIFIER).notify(ada, new Promo())
      await app().resolve(JOBS).drain()
      const statuses = (await app().resolve(DELIVERIES).list('ada')).map((d) => d.status)
      expect(statuses.sort()).toEqual(['sent', 'suppressed'])
    })
  })
}
