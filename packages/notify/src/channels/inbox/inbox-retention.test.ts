import { createLogger, JOBS } from '@mortar/core'
import {
  createTestApp,
  type EngineApp,
  startEngineApp,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NOTIFY_JOBS, notifyModule } from '../../module/notify-module.js'
import { INBOX, inboxChannel } from './inbox-channel.js'
import { defineJob } from '@mortar/core'
import { z } from 'zod'

// The retention schedule's tick job under its own name, as the schedule enqueues it.
const retentionTick = defineJob({
  name: NOTIFY_JOBS.inboxRetention,
  schema: z.object({ at: z.string() }),
  handler: () => undefined,
})
const DAY = 86_400_000

for (const engine of testEngines()) {
  if (engine.skip) console.info(`[skipped] inbox retention on ${engine.title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(`inbox retention on ${engine.title}`, () => {
    let started: EngineApp<TestApp> | undefined
    let app: TestApp
    beforeAll(async () => {
      started = await startEngineApp(engine, (url) =>
        createTestApp({
          database: url,
          logger: createLogger({ level: 'silent' }),
          jobs: { workers: false },
          modules: [notifyModule({ channels: [inboxChannel()], inboxRetentionDays: 30 })],
        }),
      )
      app = started.app
    })
    afterAll(() => started?.dispose())

    it('deletes read and archived items past the retention daily, by batches, and keeps unread ones', async () => {
      const inbox = app.resolve(INBOX)
      app.clock.set('2026-01-01T00:00:00Z')
      const add = (id: string) =>
        inbox.add({ id, recipientId: 'ada', type: 't', message: { title: id } })
      // More old read items than one batch deletes.
      const old = Array.from({ length: 1_005 }, (_, n) => `old-read-${n}`)
      for (const id of [...old, 'old-archived', 'old-unread']) await add(id)
      await inbox.markRead('ada', old)
      await inbox.archive('ada', ['old-archived'])
      app.clock.set('2026-01-25T00:00:00Z')
      await add('recent-read')
      await inbox.markRead('ada', ['recent-read'])
      const at = new Date(Date.parse('2026-01-01T00:00:00Z') + 31 * DAY)
      app.clock.set(at)
      await app.resolve(JOBS).enqueue(retentionTick, { at: at.toISOString() })
      await app.resolve(JOBS).drain()
      // Before, nothing was ever deleted.
      expect(await inbox.counts('ada')).toMatchObject({ unread: 1, read: 1, archived: 0 })
      expect((await inbox.list('ada')).items.map((item) => item.id).sort()).toEqual([
        'old-unread',
        'recent-read',
      ])
    })

    it('refuses an invalid date and a retention that is no whole number of days', async () => {
      await expect(app.resolve(INBOX).prune(new Date(Number.NaN))).rejects.toMatchObject({
        code: 'E_VALIDATION',
      })
      for (const days of [0, 1.5, Number.NaN, 40_000]) {
        expect(() =>
          notifyModule({ channels: [inboxChannel()], inboxRetentionDays: days }),
        ).toThrow(/inboxRetentionDays/)
      }
    })
  })
}
