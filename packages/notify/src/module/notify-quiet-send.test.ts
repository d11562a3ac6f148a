import { JOBS } from '@mortar/core'
import {
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Notification } from '../notification/notification.js'
import type { Recipient } from '../notification/recipient.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { type RecordingChannel, recordingChannel } from '../test-support/recording-channel.js'
import { DELIVERIES, NOTIFIER } from './notify-tokens.js'

class Reminder extends Notification {
  readonly type = 'reminder'
  constructor(readonly category: string) {
    super()
  }
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'Reminder' }
  }
}

// Quiet hours were decided when notify() wrote the delivery: its retry, or its replay once dead,
// went out inside the recipient's window.
for (const engine of testEngines()) {
  const title = `quiet hours decided at each send, on ${engine.title}`
  if (engine.skip) console.info(`[skipped] ${title}: ${engine.skip}`)
  describe.skipIf(engine.skip !== undefined)(title, () => {
    let database: PrivateDatabaseUrl
    let app: TestApp
    let sms: RecordingChannel<'sms'>
    const sleeper = (id: string): Recipient => ({ id, phone: '+15550001111', timeZone: 'UTC' })

    beforeAll(async () => {
      database = await privateDatabaseUrl(engine)
      sms = recordingChannel('sms', (recipient) => recipient.phone)
      app = await startedNotifyTestApp(
        {
          channels: [sms],
          categories: { security: { critical: true } },
          quietHours: { start: '22:00', end: '07:00' },
        },
        database.url,
      )
    })
    afterAll(async () => {
      await app?.stop()
      await database?.drop()
    })

    const sentTo = (id: string) => sms.sent.filter((outgoing) => outgoing.recipientId === id)

    it('holds a retry that falls in the window until its end', async () => {
      app.clock.set('2026-06-01T21:59:00Z')
      sms.script.push({ status: 'transient', reason: 'provider busy' })
      await app.resolve(NOTIFIER).notify(sleeper('rey'), new Reminder('reminders'))
      await app.resolve(JOBS).drain()
      expect(sentTo('rey')).toHaveLength(0)
      // The retry is due in the window.
      app.clock.set('2026-06-01T23:00:00Z')
      await app.resolve(JOBS).drain()
      expect(sentTo('rey')).toHaveLength(0)
      app.clock.set('2026-06-02T07:00:00Z')
      await app.resolve(JOBS).drain()
      expect(sentTo('rey')).toHaveLength(1)
      const [delivery] = await app.resolve(DELIVERIES).list('rey')
      expect(delivery).toMatchObject({ status: 'sent', attempts: 2 })
    })

    it('holds a replay made in the window until its end, and lets a critical one through', async () => {
      app.clock.set('2026-06-02T21:00:00Z')
      sms.script.push({ status: 'permanent', reason: 'refused' })
      sms.script.push({ status: 'permanent', reason: 'refused' })
      await app.resolve(NOTIFIER).notify(sleeper('ray'), new Reminder('reminders'))
      await app.resolve(NOTIFIER).notify(sleeper('ray'), new Reminder('security'))
      await app.resolve(JOBS).drain()
      const deliveries = app.resolve(DELIVERIES)
      expect((await deliveries.list('ray')).map((d) => d.status)).toEqual(['dead', 'dead'])
      app.clock.set('2026-06-02T23:30:00Z')
      expect(await deliveries.replay('all-dead')).toBe(2)
      await app.resolve(JOBS).drain()
      // The critical one goes at once; the other waits for 07:00.
      expect(sentTo('ray').map((outgoing) => outgoing.type)).toEqual(['reminder'])
      expect((await deliveries.list('ray')).map((d) => [d.category, d.status]).sort()).toEqual([
        ['reminders', 'queued'],
        ['security', 'sent'],
      ])
      app.clock.set('2026-06-03T07:00:00Z')
      await app.resolve(JOBS).drain()
      expect(sentTo('ray')).toHaveLength(2)
      expect((await deliveries.list('ray')).map((d) => d.status)).toEqual(['sent', 'sent'])
    })
  })
}
