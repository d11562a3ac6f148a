import { EVENT_BUS, type EventMap, JOBS } from '@mortar/core'
import { describe, expect, it } from 'vitest'
import { DELIVERIES, NOTIFIER } from '../module/notify-tokens.js'
import { Notification } from '../notification/notification.js'
import { startedNotifyTestApp } from '../test-support/notify-test-app.js'
import { recordingChannel } from '../test-support/recording-channel.js'
import type { Channel, ChannelResult, Outgoing } from './channel.js'
import { fallbackChannel } from './fallback-channel.js'
import { smsChannel } from './sms/sms-channel.js'
import type { SmsMessage } from './sms/sms-message.js'
import { startLocalServer } from '../test-support/local-server.js'

function provider(name: string, result: ChannelResult, calls: string[]): Channel<'sms'> {
  return {
    name: 'sms',
    route: (recipient) => recipient.phone,
    async send() {
      calls.push(name)
      return result
    },
  }
}

const message: Outgoing<SmsMessage> = {
  id: 'd-1',
  to: '+15550100',
  message: { text: 'hi' },
  recipientId: 'u',
  type: 't',
  attempt: 1,
  signal: new AbortController().signal,
}

/** A one-time code by text: the notification the ledger cases send through a fallback channel. */
class Code extends Notification {
  readonly type = 'code'
  via() {
    return ['sms'] as const
  }
  toSms() {
    return { text: 'Your code: 1234' }
  }
}

describe('fallbackChannel', () => {
  it('tries the next provider only after a known refusal (not-accepted)', async () => {
    const calls: string[] = []
    const channel = fallbackChannel([
      provider('a', { status: 'not-accepted', reason: 'ECONNREFUSED' }, calls),
      provider('b', { status: 'accepted', providerMessageId: 'b-1' }, calls),
    ])
    expect(await channel.send(message)).toEqual({ status: 'accepted', providerMessageId: 'b-1' })
    expect(calls).toEqual(['a', 'b'])
  })

  it('never tries another provider after an ambiguous failure (it may have been sent)', async () => {
    const calls: string[] = []
    const channel = fallbackChannel([
      provider('a', { status: 'transient', reason: 'timeout after sending' }, calls),
      provider('b', { status: 'accepted' }, calls),
    ])
    expect(await channel.send(message)).toMatchObject({ status: 'transient' })
    expect(calls).toEqual(['a'])
  })

  it('tries no further provider once the send was given up (its signal aborted): the ledger no longer waits for it', async () => {
    // The attempt gave the send up at its bound while the first provider was still at it; that
    // provider then reported it down. Before, the next provider sent it anyway, after the
    // attempt's end, beside whatever attempt the ledger let send it next.
    // (A refusal for good here: a given-up send is no reason to make it dead.)
    const calls: string[] = []
    const givenUp = new AbortController()
    const channel = fallbackChannel([
      {
        ...provider('a', { status: 'accepted' }, calls),
        async send() {
          calls.push('a')
          givenUp.abort(
            new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
          )
          return { status: 'permanent', reason: '550: no such number here' }
        },
      },
      provider('b', { status: 'accepted' }, calls),
    ])
    expect(await channel.send({ ...message, signal: givenUp.signal })).toMatchObject({
      status: 'not-accepted',
      // Not dead: the provider not tried may yet take it.
      reason: expect.stringMatching(/no such number here.*given up/),
    })
    expect(calls).toEqual(['a'])
  })

  it('never hands a message to the next provider after a 303: the first may have sent it', async () => {
    // An SMS provider answering a POST with "see other" has likely taken the message; the SMS
    // channel follows no redirects, and before, that unfollowed redirect was permanent.
    const seeOther = await startLocalServer((_request, response) => {
      response.statusCode = 303
      response.setHeader('location', '/2010-04-01/Accounts/AC1/Messages/SM1.json')
      response.end()
    })
    const calls: string[] = []
    try {
      const channel = fallbackChannel([
        smsChannel({
          baseUrl: seeOther.url,
          accountSid: 'AC1',
          authToken: 'token-of-test',
          from: '+15550100',
        }),
        provider('b', { status: 'accepted' }, calls),
      ])
      expect(await channel.send(message)).toMatchObject({ status: 'transient' })
      expect(seeOther.requests.length).toBe(1)
      expect(calls).toEqual([])
    } finally {
      await seeOther.close()
    }
  })

  it('hands a message one provider refuses for good to the next, and kills it only when every provider did', async () => {
    const calls: string[] = []
    // Before, a permanent refusal by the first provider (a number it does not serve) killed a
    // message the second would have sent.
    const rescued = fallbackChannel([
      provider('a', { status: 'permanent', reason: 'bad number' }, calls),
      provider('b', { status: 'accepted' }, calls),
    ])
    expect(await rescued.send(message)).toEqual({ status: 'accepted' })
    const dead = fallbackChannel([
      provider('c', { status: 'permanent', reason: 'bad number' }, calls),
      provider('d', { status: 'permanent', reason: 'no such number' }, calls),
    ])
    expect(await dead.send(message)).toEqual({
      status: 'permanent',
      reason: 'provider 1 of 2: bad number; provider 2 of 2: no such number',
    })
    const refused = fallbackChannel([
      provider('e', { status: 'not-accepted', reason: 'down' }, calls),
      provider('f', { status: 'not-accepted', reason: 'also down' }, calls),
    ])
    expect(await refused.send(message)).toEqual({
      status: 'not-accepted',
      reason: 'provider 1 of 2: down; provider 2 of 2: also down',
    })
    expect(calls).toEqual(['a', 'b', 'c', 'd', 'e', 'f'])
  })

  it('retries a message a later provider refused for good while an earlier one was down: that one may take it', async () => {
    const calls: string[] = []
    const channel = fallbackChannel([
      provider('a', { status: 'not-accepted', reason: 'down', retryAfterMs: 60_000 }, calls),
      provider('b', { status: 'permanent', reason: 'does not serve this country' }, calls),
    ])
    // Before, the second provider's refusal killed the delivery at once.
    expect(await channel.send(message)).toEqual({
      status: 'not-accepted',
      reason: 'provider 1 of 2: down; provider 2 of 2: does not serve this country',
      retryAfterMs: 60_000,
    })
  })

  it('refuses a message at notify() only when every provider would', () => {
    const validating = (reason: string | undefined): Channel<'sms'> => ({
      ...provider('p', { status: 'accepted' }, []),
      validate: () => reason,
    })
    // Before, the first provider alone was asked: a message only the second can send was dead.
    expect(
      fallbackChannel([validating('too long for a'), validating(undefined)]).validate?.(
        { text: 'hi' },
        '+15550100',
      ),
    ).toBeUndefined()
    expect(
      fallbackChannel([validating('too long for a'), validating('too long for b')]).validate?.(
        { text: 'hi' },
        '+15550100',
      ),
    ).toBe('provider 1 of 2: too long for a; provider 2 of 2: too long for b')
  })

  it('refuses through a provider whose validate() throws, naming it, and still asks the next', () => {
    // Before, the first provider's throw escaped the fallback's validate(): the message was
    // refused under the channel's name alone, though the second provider takes it.
    const throwing: Channel<'sms'> = {
      ...provider('p', { status: 'accepted' }, []),
      validate: () => {
        throw new Error('schema says no')
      },
    }
    const taking: Channel<'sms'> = { ...provider('q', { status: 'accepted' }, []) }
    expect(fallbackChannel([throwing, taking]).validate?.({ text: 'hi' }, '+1')).toBeUndefined()
    expect(fallbackChannel([taking, throwing]).validate?.({ text: 'hi' }, '+1')).toBeUndefined()
    expect(
      fallbackChannel([{ ...taking, validate: () => 'too long' }, throwing]).validate?.(
        { text: 'hi' },
        '+1',
      ),
    ).toBe(
      "provider 1 of 2: too long; provider 2 of 2: the 'sms' channel's validate() threw: schema says no",
    )
  })

  it('names the provider that threw or rejected its send, tries no further one, and the ledger reports it so', async () => {
    // Before, the throw escaped the fallback channel and the ledger reported it under the
    // channel's name: nothing said that the second provider, not the first, failed.
    const calls: string[] = []
    const throwingAt = (sync: boolean): Channel<'sms'> => ({
      name: 'sms',
      route: (recipient) => recipient.phone,
      send: sync
        ? () => {
            calls.push('throws')
            throw new Error('socket hang up')
          }
        : async () => {
            calls.push('rejects')
            throw new Error('socket hang up')
          },
    })
    for (const sync of [true, false]) {
      const channel = fallbackChannel([
        provider('a', { status: 'not-accepted', reason: 'ECONNREFUSED' }, calls),
        throwingAt(sync),
        provider('c', { status: 'accepted' }, calls),
      ])
      expect(await channel.send(message)).toEqual({
        status: 'transient',
        reason:
          "provider 1 of 3: ECONNREFUSED; channel 'sms' (provider 2 of 3) threw instead of resolving a result: socket hang up (it may have gone out)",
      })
    }
    expect(calls).toEqual(['a', 'throws', 'a', 'rejects'])

    const app = await startedNotifyTestApp(
      {
        channels: [
          fallbackChannel([
            provider('a', { status: 'not-accepted', reason: 'ECONNREFUSED' }, []),
            throwingAt(false),
          ]),
        ],
        delivery: { attempts: 1 },
      },
      'sqlite::memory:',
    )
    const failed: EventMap['notification.failed'][] = []
    const off = app
      .resolve(EVENT_BUS)
      .subscribe('notification.failed', (event) => void failed.push(event))
    try {
      const { deliveries } = await app
        .resolve(NOTIFIER)
        .notify({ id: 'ada', phone: '+15550100' }, new Code())
      await app.resolve(JOBS).drain()
      const named =
        /channel 'sms' \(provider 2 of 2\) threw instead of resolving a result: socket hang up/
      expect((await app.resolve(DELIVERIES).get(deliveries[0]?.id ?? ''))?.lastError).toMatch(named)
      expect(failed.map((event) => event.reason)).toEqual([expect.stringMatching(named)])
    } finally {
      off()
      await app.stop()
    }
  })

  it('asks the retry to wait as long as the soonest provider that refused asked, not if one asked nothing', async () => {
    const refusing = (...waits: (number | undefined)[]) =>
      fallbackChannel(
        waits.map((retryAfterMs, n) =>
          provider(
            `p${n}`,
            retryAfterMs === undefined
              ? { status: 'not-accepted', reason: 'down' }
              : { status: 'not-accepted', reason: 'busy', retryAfterMs },
            [],
          ),
        ),
      )
    expect(await refusing(3_600_000, 60_000).send(message)).toMatchObject({ retryAfterMs: 60_000 })
    expect(await refusing(3_600_000).send(message)).toMatchObject({ retryAfterMs: 3_600_000 })
    expect(await refusing(3_600_000, undefined).send(message)).not.toHaveProperty('retryAfterMs')
  })

  it('opens every provider when the notify module opens it, as each would be alone', async () => {
    const opened: string[] = []
    const opening = (name: string): Channel<'sms'> => ({
      ...provider(name, { status: 'accepted' }, []),
      async open() {
        opened.push(name)
      },
    })
    const channel = fallbackChannel([
      opening('a'),
      provider('b', { status: 'accepted' }, []),
      opening('c'),
    ])
    // Before, a fallback had no open(): a provider's was never called.
    await channel.open?.({ resolve: () => undefined as never })
    expect(opened).toEqual(['a', 'c'])
  })

  it('refuses an empty list or providers of different channels', () => {
    expect(() => fallbackChannel([])).toThrow(/at least one/)
    const mail = {
      name: 'mail',
      route: () => undefined,
      send: async () => ({ status: 'accepted' }),
    } as unknown as Channel<'sms'>
    expect(() => fallbackChannel([provider('a', { status: 'accepted' }, []), mail])).toThrow(
      /every provider/,
    )
  })

  it('counts a possible duplicate when a retry goes through another provider than one that may have taken the message', async () => {
    // Both providers key the message by the delivery id, but not each other's: the first was
    // down, the second timed out once the request was out (it may have sent it), the retry
    // finds the first up again and it sends it too. Before, the fallback passed for idempotent
    // (no mark) and the second message went unrecorded.
    const first = Object.assign(
      recordingChannel('sms', (recipient) => recipient.phone),
      { idempotent: true },
    )
    const second = Object.assign(
      recordingChannel('sms', (recipient) => recipient.phone),
      { idempotent: true },
    )
    first.script.push({ status: 'not-accepted', reason: 'ECONNREFUSED' })
    second.script.push({ status: 'transient', reason: 'no answer once the request was out' })
    const app = await startedNotifyTestApp(
      {
        channels: [fallbackChannel([first, second])],
        delivery: { attempts: 5, backoff: { baseMs: 1_000, maxMs: 1_000 } },
      },
      'sqlite::memory:',
    )
    try {
      const { deliveries } = await app
        .resolve(NOTIFIER)
        .notify({ id: 'ada', phone: '+15550100' }, new Code())
      await app.resolve(JOBS).drain()
      app.clock.advance(60_000)
      await app.resolve(JOBS).drain()
      expect(first.sent).toHaveLength(1)
      expect(await app.resolve(DELIVERIES).get(deliveries[0]?.id ?? '')).toMatchObject({
        status: 'sent',
        attempts: 2,
        possibleDuplicates: 1,
      })
    } finally {
      await app.stop()
    }
  })

  it("hands the next provider the send's signal when an earlier one reached others (sentTo)", async () => {
    // The ledger's outgoing send makes its signal when first read (a getter): the copy made to
    // tell the next provider whom the first reached had none, so that provider could not be
    // aborted at the send's bound, and one that read `signal.aborted` threw.
    const signals: unknown[] = []
    const first: Channel<'sms'> = {
      name: 'sms',
      route: (recipient) => recipient.phone,
      async send() {
        return { status: 'not-accepted', reason: 'down for +1555', sentTo: ['+15550199'] }
      },
    }
    const second: Channel<'sms'> = {
      name: 'sms',
      route: (recipient) => recipient.phone,
      async send(outgoing) {
        signals.push(outgoing.signal)
        return { status: 'accepted' }
      },
    }
    const app = await startedNotifyTestApp(
      { channels: [fallbackChannel([first, second])] },
      'sqlite::memory:',
    )
    try {
      await app.resolve(NOTIFIER).notify({ id: 'ada', phone: '+15550100' }, new Code())
      await app.resolve(JOBS).drain()
      expect(signals).toHaveLength(1)
      expect(signals[0]).toBeInstanceOf(AbortSignal)
    } finally {
      await app.stop()
    }
  })
})
