import { JOBS } from '@mortar/core'
import { describe, expect, it } from 'vitest'
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
          lastError: `transient: the channel threw: ${reason}`,
        })
      })
    }
  }
})
