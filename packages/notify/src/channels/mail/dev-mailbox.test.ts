import { describe, expect, it } from 'vitest'
import { notifyTestApp } from '../../test-support/notify-test-app.js'
import { devMailbox } from './dev-mailbox.js'
import { mailChannel } from './mail-channel.js'

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

  it('refuses a capacity that keeps no mail, rather than report mail accepted that no one can read', async () => {
    for (const capacity of [0, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => devMailbox({ capacity })).toThrow(/capacity must be a whole number/)
    }
    const mailbox = devMailbox({ capacity: 1, env: { NODE_ENV: 'test' } })
    await mailbox.send(mail)
    await mailbox.send({ ...mail, subject: 'Second' })
    expect(mailbox.messages().map((m) => m.subject)).toEqual(['Second'])
  })

  it('captures mail in tests', async () => {
    const mailbox = devMailbox({ env: { NODE_ENV: 'test' } })
    await mailbox.open()
    expect(await mailbox.send(mail)).toMatchObject({ status: 'accepted' })
  })

  it.each([
    ['production', /\(NODE_ENV=production\)/],
    ['staging', /\(NODE_ENV=staging\)/],
    [undefined, /\(NODE_ENV is unset\)/],
  ])(
    'takes no mail where NODE_ENV is %s: refused at start, and not accepted if sent anyway',
    async (environment, why) => {
      const mailbox = devMailbox({ env: { NODE_ENV: environment } })
      await expect(mailbox.open()).rejects.toMatchObject({
        code: 'E_NOTIFY_CONFIG',
        message: expect.stringMatching(why),
      })
      expect(await mailbox.send(mail)).toMatchObject({
        status: 'not-accepted',
        reason: expect.stringMatching(why),
      })
      expect(mailbox.messages()).toEqual([])
    },
  )
})

describe('the notify module with a dev mailbox', () => {
  it('refuses to start where NODE_ENV is unset, so no mail is marked sent that reached no one', async () => {
    const app = notifyTestApp({
      channels: [mailChannel({ from: 'shop@example.com', transport: devMailbox({ env: {} }) })],
    })
    await app.migrate()
    try {
      await expect(app.start()).rejects.toMatchObject({
        code: 'E_NOTIFY_CONFIG',
        message: expect.stringMatching(/NODE_ENV is unset/),
      })
    } finally {
      await app.stop()
    }
  })
})
