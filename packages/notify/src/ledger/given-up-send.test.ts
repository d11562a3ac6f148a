import { databaseToken, JOBS } from '@mortar/core'
import { type Kysely, sql } from 'kysely'
import { describe, expect, it, vi } from 'vitest'
import type { ChannelResult } from '../channels/channel.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { type RecordingChannel, recordingChannel } from '../test-support/recording-channel.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'

class Ping extends Notification {
  readonly type = 'ping'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'ping' }
  }
}

/** Notifies one Ping through `sms`, drains the jobs and returns its delivery; `beforeStop` runs before the app stops. */
async function pingOnce(sms: RecordingChannel<'sms'>, beforeStop = () => {}) {
  const app = await startedNotifyTestApp({ channels: [sms] }, 'sqlite::memory:')
  try {
    const { deliveries } = await app.resolve(NOTIFIER).notify({ id: 'ada' }, new Ping())
    await app.resolve(JOBS).drain()
    return await app.resolve(DELIVERIES).get(deliveries[0]?.id ?? '')
  } finally {
    beforeStop()
    await app.stop()
  }
}

it('records the failed attempt of a send given up at its bound on an idempotent channel', async () => {
  // An idempotent channel holds no `sending` mark, so nothing else records the attempt: before,
  // the row stayed `queued` with no attempt and no error while its job was retried.
  const sms = Object.assign(
    recordingChannel('sms', (recipient) => recipient.id),
    { idempotent: true },
  )
  sms.sendTimeoutMs = 10
  let release = () => {}
  sms.beforeSend = () =>
    new Promise<void>((resolve) => {
      release = resolve
    })
  expect(await pingOnce(sms, () => release())).toMatchObject({
    status: 'failed',
    attempts: 1,
    lastError: expect.stringMatching(/no answer within 10 ms/),
  })
})

// Values with no message, or whose String() throws: reading `.message` or calling String() on
// them threw inside the send's rejection handler, so the send's answer rejected unhandled and the
// attempt was only recorded at its bound, as one that may have gone out.
const THROWN = [
  { what: 'undefined', value: undefined, reason: 'undefined' },
  { what: 'null', value: null, reason: 'null' },
  { what: 'an object without a prototype', value: Object.create(null), reason: '[object Object]' },
]

it('records the failed attempt of a custom channel whose result names whom it reached in another shape than a list', async () => {
  // Before, reading it threw after the send: the attempt went unrecorded, its mark held the
  // delivery to the end of its lease, and the next send counted as a possible duplicate.
  const sms = recordingChannel('sms', (recipient) => recipient.id)
  sms.script.push({
    status: 'not-accepted',
    reason: 'down',
    sentTo: 'boss@example.com' as unknown as string[],
  })
  expect(await pingOnce(sms)).toMatchObject({
    status: 'failed',
    attempts: 1,
    lastError: 'not-accepted: down',
  })
})

describe('a custom channel that throws a value with no text form', () => {
  for (const { what, value, reason } of THROWN) {
    for (const how of ['rejects', 'throws'] as const) {
      it(`records the attempt failed with a readable reason when its send ${how} ${what}`, async () => {
        const sms = recordingChannel('sms', (recipient) => recipient.id)
        // The bound is far shorter than the test's timeout: without a readable reason the
        // attempt would be recorded as given up at it.
        sms.sendTimeoutMs = 200
        sms.send =
          how === 'rejects'
            ? (): Promise<ChannelResult> => Promise.reject(value)
            : (): Promise<ChannelResult> => {
                throw value
              }
        expect(await pingOnce(sms)).toMatchObject({
          status: 'failed',
          attempts: 1,
          lastError: `transient: channel 'sms' ${how === 'rejects' ? 'rejected its send' : 'threw'} instead of resolving a result: ${reason} (it may have gone out)`,
        })
      })
    }
  }
})

it('keeps whom a send given up at its bound reached besides the recipient, when its answer comes late: the next attempt leaves them out', async () => {
  // A mail channel (no idempotency keys: its sends are marked) whose first send answers after
  // its bound: the server held the recipient off but took the mail for the cc.
  const mail = recordingChannel('mail', (recipient) => recipient.email)
  mail.sendTimeoutMs = 10
  let release = () => {}
  mail.beforeSend = () =>
    new Promise<void>((resolve) => {
      release = resolve
    })
  mail.script.push({
    status: 'not-accepted',
    reason: '451: greylisted; the server took the mail for its other recipients (cc, bcc)',
    sentTo: ['boss@example.com'],
  })
  class Invoice extends Notification {
    readonly type = 'invoice'
    via() {
      return ['mail'] as const
    }
    toMail() {
      return { subject: 'Invoice', text: 'Attached.', cc: ['boss@example.com'] }
    }
  }
  const app = await startedNotifyTestApp(
    { channels: [mail], delivery: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 } } },
    'sqlite::memory:',
  )
  try {
    const { deliveries } = await app
      .resolve(NOTIFIER)
      .notify({ id: 'ada', email: 'ada@example.com' }, new Invoice())
    const id = deliveries[0]?.id ?? ''
    await app.resolve(JOBS).drain()
    expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({ status: 'sending' })
    mail.beforeSend = undefined
    release()
    // The late answer is recorded in the background, under the attempt's mark.
    const db = app.resolve(databaseToken()) as Kysely<unknown>
    await vi.waitFor(async () => {
      const row = await sql<{
        sent_to: string | null
      }>`select sent_to from mortar_delivery`.execute(db)
      expect(row.rows[0]?.sent_to).not.toBeNull()
    })
    // Past the mark's lease: the job that went on after it sends again.
    app.clock.advance(60_000)
    await app.resolve(JOBS).drain()
    // Before, the late answer was dropped: the retry sent the boss a second copy.
    expect(mail.sent.map((outgoing) => outgoing.sentTo)).toEqual([['boss@example.com']])
    expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({ status: 'sent' })
  } finally {
    await app.stop()
  }
})
