import { describe, expect, it } from 'vitest'
import type { Channel, ChannelResult, Outgoing } from './channel.js'
import { fallbackChannel } from './fallback-channel.js'
import type { SmsMessage } from './sms/sms-message.js'

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

  it('stops at a permanent failure, and reports not-accepted when every provider refused', async () => {
    const calls: string[] = []
    const permanent = fallbackChannel([
      provider('a', { status: 'permanent', reason: 'bad number' }, calls),
      provider('b', { status: 'accepted' }, calls),
    ])
    expect(await permanent.send(message)).toMatchObject({ status: 'permanent' })
    const refused = fallbackChannel([
      provider('c', { status: 'not-accepted', reason: 'down' }, calls),
      provider('d', { status: 'not-accepted', reason: 'also down' }, calls),
    ])
    expect(await refused.send(message)).toEqual({
      status: 'not-accepted',
      reason: 'down; also down',
    })
    expect(calls).toEqual(['a', 'c', 'd'])
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
})
