import { JOBS } from '@mortar/core'
import { expect, it } from 'vitest'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { recordingChannel } from '../test-support/recording-channel.js'
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
  const app = await startedNotifyTestApp({ channels: [sms] }, 'sqlite::memory:')
  try {
    const { deliveries } = await app.resolve(NOTIFIER).notify({ id: 'ada' }, new Ping())
    await app.resolve(JOBS).drain()
    expect(await app.resolve(DELIVERIES).get(deliveries[0]?.id ?? '')).toMatchObject({
      status: 'failed',
      attempts: 1,
      lastError: expect.stringMatching(/no answer within 10 ms/),
    })
  } finally {
    release()
    await app.stop()
  }
})
