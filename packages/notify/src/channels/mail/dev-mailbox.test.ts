import { describe, expect, it } from 'vitest'
import { devMailbox } from './dev-mailbox.js'

const mail = {
  messageId: '<d-1@shop.example>',
  from: 'Shop <no-reply@shop.example>',
  to: 'ada@example.com',
  subject: 'Your order',
  text: 'Thanks',
}

describe('DevMailbox', () => {
  it('captures mail outside production', async () => {
    const mailbox = devMailbox({ env: { NODE_ENV: 'development' } })
    expect(await mailbox.send(mail)).toEqual({
      status: 'accepted',
      providerMessageId: '<d-1@shop.example>',
    })
    expect(mailbox.messages().map((m) => m.subject)).toEqual(['Your order'])
  })

  it('takes no mail in production: not accepted, so the delivery is never marked sent', async () => {
    const mailbox = devMailbox({ env: { NODE_ENV: 'production' } })
    expect(await mailbox.send(mail)).toMatchObject({
      status: 'not-accepted',
      reason: expect.stringMatching(/production/),
    })
    expect(mailbox.messages()).toEqual([])
  })
})
