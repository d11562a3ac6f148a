import { EVENT_BUS, type EventMap, JOBS } from '@mortar/core'
import { type TestApp, testEngines } from '@mortar/core/testing'
import { describe, expect, it } from 'vitest'
import type { ChannelResult } from '../channels/channel.js'
import { fallbackChannel } from '../channels/fallback-channel.js'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { notifyAppOn, startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { type RecordingChannel, recordingChannel } from '../test-support/recording-channel.js'

class Ping extends Notification {
  readonly type = 'ping'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'ping' }
  }
}

// What a channel may resolve that is no result, and how the reason names it.
const NOT_RESULTS: readonly { readonly value: unknown; readonly named: string }[] = [
  { value: undefined, named: 'resolved undefined' },
  { value: null, named: 'resolved null' },
  { value: 'ok', named: 'resolved a string' },
  { value: 202, named: 'resolved a number' },
  { value: [], named: 'resolved an array' },
  { value: {}, named: 'resolved an object without a status as text' },
  { value: { status: 'delivered' }, named: 'resolved status "delivered"' },
  { value: { status: 'queued', reason: 'later' }, named: 'resolved status "queued"' },
  { value: { status: 'transient' }, named: "resolved 'transient' without a reason as text" },
  { value: { status: 'permanent', reason: 42 }, named: "resolved 'permanent' without a reason" },
  {
    value: { status: 'accepted', providerMessageId: 7 },
    named: "resolved 'accepted' with a providerMessageId that is not text",
  },
]

/** An SMS channel that answers `value` to every send. */
function answering(value: unknown): RecordingChannel<'sms'> {
  const sms = recordingChannel('sms', (recipient) => recipient.id)
  sms.send = async () => value as ChannelResult
  return sms
}

async function pingAndDrain(app: TestApp, recipientId: string) {
  const { deliveries } = await app.resolve(NOTIFIER).notify({ id: recipientId }, new Ping())
  await app.resolve(JOBS).drain()
  return deliveries[0]?.id ?? ''
}

for (const engine of testEngines()) {
  describe.skipIf(engine.skip !== undefined)(
    `a channel that resolves no result, on ${engine.title}`,
    () => {
      const sms = recordingChannel('sms', (recipient) => recipient.id)
      const started = notifyAppOn(engine, {
        channels: [sms],
        delivery: { attempts: 5, backoff: { baseMs: 1_000, maxMs: 1_000 } },
      })

      it('is dead at once with a reason naming the channel and what it resolved, never retried, replayable', async () => {
        const app = started()
        const failed: EventMap['notification.failed'][] = []
        const off = app
          .resolve(EVENT_BUS)
          .subscribe('notification.failed', (event) => void failed.push(event))
        try {
          for (const [index, { value, named }] of NOT_RESULTS.entries()) {
            const send = sms.send
            sms.send = async () => {
              sms.send = send
              return value as ChannelResult
            }
            const before = sms.sent.length
            const id = await pingAndDrain(app, `r-${index}`)
            const deliveries = app.resolve(DELIVERIES)
            // Before: `undefined` was recorded as a timeout ("no answer within 30000 ms"), an
            // unknown status retried as transient (a second message if the provider took it).
            expect(await deliveries.get(id), JSON.stringify(value)).toMatchObject({
              status: 'dead',
              attempts: 1,
              lastError: expect.stringContaining(`ambiguous: channel 'sms' ${named}`),
            })
            expect((await deliveries.get(id))?.lastError).not.toMatch(/timeout|no answer/)
            expect(failed.at(-1)).toMatchObject({
              deliveryId: id,
              result: 'ambiguous',
              final: true,
            })
            // No retry comes, however long one waits.
            app.clock.advance(3_600_000)
            await app.resolve(JOBS).drain()
            expect(sms.sent.length).toBe(before)
            expect((await deliveries.get(id))?.status).toBe('dead')
            // An admin replays it once checked: sent, counted as a possible duplicate (the
            // first send may have gone out; the channel is marked, taking no keys).
            expect(await deliveries.replay(id)).toBe(1)
            await app.resolve(JOBS).drain()
            expect(await deliveries.get(id)).toMatchObject({
              status: 'sent',
              possibleDuplicates: 1,
            })
          }
        } finally {
          off()
        }
      })
    },
  )
}

describe('a channel that throws, rejects or hangs', () => {
  async function attempt(sms: RecordingChannel<'sms'>) {
    const app = await startedNotifyTestApp(
      { channels: [sms], delivery: { attempts: 3, backoff: { baseMs: 1_000, maxMs: 1_000 } } },
      'sqlite::memory:',
    )
    try {
      const id = await pingAndDrain(app, 'ada')
      const first = await app.resolve(DELIVERIES).get(id)
      // Retried: the next attempt sends it (the channel answers now).
      sms.send = async () => ({ status: 'accepted' })
      app.clock.advance(60_000)
      await app.resolve(JOBS).drain()
      return { first, retried: await app.resolve(DELIVERIES).get(id) }
    } finally {
      await app.stop()
    }
  }

  it('records each as a transient failure saying which, naming the channel, and retries it', async () => {
    const throws = recordingChannel('sms', (recipient) => recipient.id)
    throws.send = () => {
      throw new Error('bad config')
    }
    const rejects = recordingChannel('sms', (recipient) => recipient.id)
    rejects.send = () => Promise.reject(new Error('socket hang up'))
    // Idempotent: no `sending` mark holds the row past the given-up send (see given-up-send.test).
    const hangs = Object.assign(
      recordingChannel('sms', (recipient) => recipient.id),
      { idempotent: true },
    )
    hangs.sendTimeoutMs = 20
    hangs.send = () => new Promise<ChannelResult>(() => {})
    for (const [sms, reason] of [
      [throws, "transient: channel 'sms' threw instead of resolving a result: bad config"],
      [
        rejects,
        "transient: channel 'sms' rejected its send instead of resolving a result: socket hang up",
      ],
      [hangs, "transient: channel 'sms' gave no answer within 20 ms (its send timeout)"],
    ] as const) {
      const { first, retried } = await attempt(sms)
      expect(first).toMatchObject({ status: 'failed', attempts: 1 })
      expect(first?.lastError).toContain(reason)
      expect(retried).toMatchObject({ status: 'sent', attempts: 2 })
    }
  })
})

describe('a fallback channel whose provider resolves no result', () => {
  it('tries no further provider: dead at once, naming the provider', async () => {
    for (const { value, named } of NOT_RESULTS) {
      const first = answering(value)
      const second = recordingChannel('sms', (recipient) => recipient.id)
      const app = await startedNotifyTestApp(
        { channels: [fallbackChannel([first, second])] },
        'sqlite::memory:',
      )
      try {
        const id = await pingAndDrain(app, 'ada')
        // Before: an unknown status was read as a refusal and the second provider sent it too
        // (a second message if the first took it); `undefined` threw, read as transient.
        expect(second.sent, JSON.stringify(value)).toHaveLength(0)
        expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({
          status: 'dead',
          lastError: expect.stringContaining(`ambiguous: channel 'sms' (provider 1 of 2) ${named}`),
        })
      } finally {
        await app.stop()
      }
    }
  })

  it('tries no further provider after a throw either: retried', async () => {
    const first = recordingChannel('sms', (recipient) => recipient.id)
    first.send = () => Promise.reject(new Error('socket hang up'))
    const second = recordingChannel('sms', (recipient) => recipient.id)
    const app = await startedNotifyTestApp(
      { channels: [fallbackChannel([first, second])] },
      'sqlite::memory:',
    )
    try {
      const id = await pingAndDrain(app, 'ada')
      expect(second.sent).toHaveLength(0)
      expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({
        status: 'failed',
        lastError: expect.stringContaining('socket hang up'),
      })
    } finally {
      await app.stop()
    }
  })
})
