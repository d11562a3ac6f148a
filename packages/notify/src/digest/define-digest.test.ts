import { z } from 'zod'
import { describe, expect, it } from 'vitest'
import { defineDigest } from './define-digest.js'

const digest = (key: string) =>
  defineDigest({
    key,
    schema: z.object({ text: z.string() }),
    window: { minutes: 30 },
    channels: ['mail'],
    toMail: (items) => ({ subject: 'News', text: items.map((item) => item.text).join('\n') }),
  })

describe('defineDigest', () => {
  it("refuses a key with a '|', which would let two recipients share one open batch", () => {
    // A batch's open key is `digest|recipient`: with digests 'alerts' and 'alerts|ops', the open
    // batch of 'ops|eve' in the first and of 'eve' in the second were one row, and eve's items
    // went out in the mail to ops|eve. Recipient ids may hold a '|' (on-demand ones do).
    expect(() => digest('alerts|ops')).toThrow(/'\|'/)
    expect(digest('alerts').key).toBe('alerts')
  })
})
