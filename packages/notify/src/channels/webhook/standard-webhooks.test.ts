import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  webhookKey,
} from './standard-webhooks.js'

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

  it('refuses a secret that is too short or not base64', () => {
    expect(() => webhookKey('whsec_c2hvcnQ=')).toThrow(
      expect.objectContaining({ reason: 'config' }),
    )
    expect(() => webhookKey('whsec_***not base64***')).toThrow(
      expect.objectContaining({ reason: 'config' }),
    )
  })
})
