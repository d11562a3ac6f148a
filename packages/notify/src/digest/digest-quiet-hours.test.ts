import { JOBS } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import { devMailbox } from '../channels/mail/dev-mailbox.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { NOTIFIER } from '../module/notify-tokens.js'
import type { Recipient } from '../notification/recipient.js'
import { commentDigest, NewComment } from '../test-support/comment-digest.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'

// A batch kept its recipient without their quiet hours: the digest went out under the module's
// window, so a recipient quiet until 09:00 got it at 07:00, one with none (null) waited.
describe("a digest's mail and its recipient's own quiet hours", () => {
  it('is held by their window, or sent at once when they have none', async () => {
    const mailbox = devMailbox()
    const app = await startedNotifyTestApp(
      {
        channels: [mailChannel({ from: 'shop@example.com', transport: mailbox })],
        digests: [commentDigest],
        quietHours: { start: '22:00', end: '07:00' },
      },
      'sqlite::memory:',
    )
    try {
      const late: Recipient = {
        id: 'late',
        email: 'late@example.com',
        timeZone: 'Europe/Paris',
        quietHours: { start: '22:00', end: '09:00' },
      }
      const none: Recipient = {
        id: 'none',
        email: 'none@example.com',
        timeZone: 'Europe/Paris',
        quietHours: null,
      }
      // 21:45 in Paris; the batches close at 22:15, inside both windows.
      app.clock.set('2026-06-01T19:45:00Z')
      await app.resolve(NOTIFIER).notify([late, none], new NewComment('hello'))
      app.clock.advance(30 * 60_000)
      await app.resolve(JOBS).drain()
      expect(mailbox.messages().map((mail) => mail.to)).toEqual(['none@example.com'])
      // 07:30 in Paris: the module's window is over, not theirs.
      app.clock.set('2026-06-02T05:30:00Z')
      await app.resolve(JOBS).drain()
      expect(mailbox.messages('late@example.com')).toHaveLength(0)
      app.clock.set('2026-06-02T07:00:01Z')
      await app.resolve(JOBS).drain()
      expect(mailbox.messages('late@example.com')).toHaveLength(1)
    } finally {
      await app.stop()
    }
  })
})
