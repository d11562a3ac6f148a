import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { ChannelName } from '../channels/channel.js'
import { decidePreference, type PreferenceEntry } from './preference-policy.js'

const off = (category: string, channel: ChannelName | '*'): PreferenceEntry => ({
  category,
  channel,
  enabled: false,
})
const on = (category: string, channel: ChannelName | '*'): PreferenceEntry => ({
  category,
  channel,
  enabled: true,
})

describe('decidePreference', () => {
  it('sends when the recipient chose nothing', () => {
    expect(decidePreference('orders', 'mail', {}, [])).toEqual({
      send: true,
      bypassQuietHours: false,
    })
  })

  it('suppresses an opted-out category, on one channel or all, with the reason', () => {
    expect(decidePreference('marketing', 'sms', {}, [off('marketing', 'sms')])).toEqual({
      send: false,
      reason: "opted out of 'marketing' on sms",
    })
    expect(decidePreference('marketing', 'mail', {}, [off('marketing', '*')])).toMatchObject({
      send: false,
    })
    expect(decidePreference('marketing', 'mail', {}, [off('marketing', 'sms')])).toMatchObject({
      send: true,
    })
  })

  it('lets the most specific choice win', () => {
    const entries = [off('*', '*'), on('orders', '*'), off('orders', 'sms'), on('*', 'inbox')]
    expect(decidePreference('orders', 'mail', {}, entries)).toMatchObject({ send: true })
    expect(decidePreference('orders', 'sms', {}, entries)).toMatchObject({ send: false })
    expect(decidePreference('news', 'inbox', {}, entries)).toMatchObject({ send: true })
    expect(decidePreference('news', 'mail', {}, entries)).toMatchObject({ send: false })
  })

  it('always sends critical categories, skipping quiet hours, and required ones despite opt-outs', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            category: fc.constantFrom('security', 'receipts', '*'),
            channel: fc.constantFrom<ChannelName | '*'>('mail', 'sms', '*'),
            enabled: fc.boolean(),
          }),
        ),
        fc.constantFrom<ChannelName>('mail', 'sms', 'inbox'),
        (entries, channel) => {
          expect(decidePreference('security', channel, { critical: true }, entries)).toEqual({
            send: true,
            bypassQuietHours: true,
          })
          expect(decidePreference('receipts', channel, { required: true }, entries)).toEqual({
            send: true,
            bypassQuietHours: false,
          })
        },
      ),
    )
  })
})
