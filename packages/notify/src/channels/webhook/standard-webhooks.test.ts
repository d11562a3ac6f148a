import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  webhookKey,
} from './standard-webhooks.js'
import { WebhookSignatureError } from '../../errors.js'

const secret = generateWebhookSecret()
const now = new Date('2026-12-01T12:00:00Z')

describe('Standard Webhooks signatures', () => {
  it('signs id.timestamp.body with HMAC-SHA256 under the decoded key, as the spec says', () => {
    const headers = signWebhook(secret, { id: 'msg_1', timestamp: now, body: '{"a":1}' })
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
    const expected = createHmac('sha256', key)
      .update(`msg_1.${now.getTime() / 1000}.{"a":1}`)
      .digest('base64')
    expect(headers).toEqual({
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(now.getTime() / 1000),
      'webhook-signature': `v1,${expected}`,
    })
  })

  it('refuses to sign an invalid or pre-1970 timestamp (reason config), never sending NaN headers', () => {
    // Before, an invalid date was signed and sent as 'webhook-timestamp: NaN'.
    for (const timestamp of [new Date(Number.NaN), new Date(-1_000), 'now' as unknown as Date]) {
      let thrown: unknown
      try {
        signWebhook(secret, { id: 'msg_1', timestamp, body: '{}' })
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(WebhookSignatureError)
      expect((thrown as WebhookSignatureError).reason).toBe('config')
    }
    expect(
      signWebhook(secret, { id: 'm', timestamp: new Date(0), body: '' })['webhook-timestamp'],
    ).toBe('0')
  })

  it('verifies what it signs, for any id and body', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((s) => !s.includes(' ')),
        fc.string(),
        (id, body) => {
          const headers = signWebhook(secret, { id, timestamp: now, body })
          expect(verifyWebhook(secret, headers, body, { now })).toBe(id)
        },
      ),
    )
  })

  it('refuses a changed body, a wrong secret, a stale timestamp and missing headers', () => {
    const headers = signWebhook(secret, { id: 'msg_2', timestamp: now, body: 'x' })
    expect(() => verifyWebhook(secret, headers, 'y', { now })).toThrow(
      expect.objectContaining({ reason: 'signature' }),
    )
    expect(() => verifyWebhook(generateWebhookSecret(), headers, 'x', { now })).toThrow(
      expect.objectContaining({ code: 'E_WEBHOOK_SIGNATURE', status: 401 }),
    )
    expect(() =>
      verifyWebhook(secret, headers, 'x', { now: new Date(now.getTime() + 301_000) }),
    ).toThrow(expect.objectContaining({ reason: 'timestamp' }))
    expect(() => verifyWebhook(secret, { 'webhook-id': 'msg_2' }, 'x', { now })).toThrow(
      expect.objectContaining({ reason: 'missing-headers' }),
    )
  })

  it('accepts any of several signatures and any of several secrets (rotation)', () => {
    const old = generateWebhookSecret()
    const signed = signWebhook(old, { id: 'msg_3', timestamp: now, body: 'x' })
    const headers = new Headers({
      ...signed,
      'webhook-signature': `v1,AAAA ${signed['webhook-signature']}`,
    })
    expect(verifyWebhook([secret, old], headers, 'x', { now })).toBe('msg_3')
  })

  it('reads the headers whatever the case of their names, from a plain object too', () => {
    const signed = signWebhook(secret, { id: 'msg_6', timestamp: now, body: 'x' })
    // As an API gateway passes them on: the names as the sender wrote them.
    const asSent = Object.fromEntries(
      Object.entries(signed).map(([name, value]) => [
        name.replace(/(^|-)[a-z]/g, (part) => part.toUpperCase()),
        value,
      ]),
    )
    expect(Object.keys(asSent)).toContain('Webhook-Id')
    expect(verifyWebhook(secret, asSent, 'x', { now })).toBe('msg_6')
  })

  it('signs under each of several secrets, so a receiver holding either accepts it (rotation)', () => {
    const next = generateWebhookSecret()
    const headers = signWebhook([next, secret], { id: 'msg_5', timestamp: now, body: 'x' })
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2)
    expect(verifyWebhook(secret, headers, 'x', { now })).toBe('msg_5')
    expect(verifyWebhook(next, headers, 'x', { now })).toBe('msg_5')
    expect(() => signWebhook([], { id: 'msg_5', timestamp: now, body: 'x' })).toThrow(
      expect.objectContaining({ reason: 'config' }),
    )
  })

  it('refuses a signature that is not the exact base64 of the HMAC (decoders skip what they cannot read)', () => {
    const headers = signWebhook(secret, { id: 'msg_4', timestamp: now, body: 'x' })
    const value = headers['webhook-signature'].slice(3)
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
    const last = value.length - 2 // 43 characters carry 32 bytes: the last one has 2 spare bits
    const spareBitSet = `${value.slice(0, last)}${alphabet[alphabet.indexOf(value[last] ?? '') ^ 1]}=`
    const variants = [
      `${value}!!`, // trailing garbage the decoder skips
      `${value.slice(0, 10)} ${value.slice(10)}`, // whitespace inside
      `${value.slice(0, 10)}*${value.slice(10)}`, // a character not in the alphabet
      value.replace(/=+$/, ''), // padding left out
      Buffer.from(value, 'base64').toString('base64url'), // the URL alphabet
      spareBitSet, // decodes to the same bytes
      `${value}${Buffer.from('extra').toString('base64')}`, // a second base64 text appended
    ]
    for (const variant of variants) {
      expect(variant).not.toBe(value)
      expect(() =>
        verifyWebhook(secret, { ...headers, 'webhook-signature': `v1,${variant}` }, 'x', { now }),
      ).toThrow(expect.objectContaining({ reason: 'signature' }))
    }
    expect(verifyWebhook(secret, headers, 'x', { now })).toBe('msg_4')
  })

  it('verifies the timestamp header as sent: a re-spelled number is not the signed one', () => {
    const headers = signWebhook(secret, { id: 'msg_5', timestamp: now, body: 'x' })
    for (const timestamp of [
      `0${headers['webhook-timestamp']}`,
      `${headers['webhook-timestamp']}.0`,
    ]) {
      expect(() =>
        verifyWebhook(secret, { ...headers, 'webhook-timestamp': timestamp }, 'x', { now }),
      ).toThrow(expect.objectContaining({ code: 'E_WEBHOOK_SIGNATURE' }))
    }
  })

  it('refuses a tolerance that is not a finite number of seconds from 0 (NaN let every replay in)', () => {
    const stale = signWebhook(secret, { id: 'msg_6', timestamp: new Date(0), body: 'x' })
    for (const toleranceSeconds of [Number.NaN, Number.POSITIVE_INFINITY, -1]) {
      expect(() => verifyWebhook(secret, stale, 'x', { now, toleranceSeconds })).toThrow(
        expect.objectContaining({ reason: 'config' }),
      )
    }
  })

  it('refuses an invalid now as config (NaN let a webhook of any age in)', () => {
    const stale = signWebhook(secret, { id: 'msg_8', timestamp: new Date(0), body: 'x' })
    expect(() => verifyWebhook(secret, stale, 'x', { now: new Date('not a date') })).toThrow(
      expect.objectContaining({ reason: 'config' }),
    )
  })

  it('refuses an empty list of secrets as config, not as a forged signature', () => {
    // Before, every genuine webhook was refused as 'signature', a fault of each sender.
    const headers = signWebhook(secret, { id: 'msg_7', timestamp: now, body: 'x' })
    expect(() => verifyWebhook([], headers, 'x', { now })).toThrow(
      expect.objectContaining({ reason: 'config' }),
    )
  })

  it('refuses a secret that is too short or not base64', () => {
    expect(() => webhookKey('whsec_c2hvcnQ=')).toThrow(
      expect.objectContaining({ reason: 'config' }),
    )
    expect(() => webhookKey('whsec_***not base64***')).toThrow(
      expect.objectContaining({ reason: 'config' }),
    )
    // Long enough, and guessable: 32 zero bytes, one byte repeated.
    for (const bytes of [Buffer.alloc(32), Buffer.alloc(32, 7)]) {
      expect(() => webhookKey(`whsec_${bytes.toString('base64')}`)).toThrow(
        expect.objectContaining({
          reason: 'config',
          message: expect.stringContaining('guessable'),
        }),
      )
    }
  })
})
