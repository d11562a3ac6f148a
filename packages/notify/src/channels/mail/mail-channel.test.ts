import { createRequire } from 'node:module'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DevMailbox } from './dev-mailbox.js'
import { isMailAddress, mailChannel } from './mail-channel.js'
import type { MailMessage } from './mail-message.js'

// nodemailer's own parser, the one the SMTP transport hands `to`, `cc`, `from` to.
const addressparser = createRequire(import.meta.url)('nodemailer/lib/addressparser') as (
  text: string,
) => { address?: string; group?: unknown[] }[]

describe('isMailAddress', () => {
  it('refuses a display name that smuggles in more recipients', () => {
    for (const address of [
      'victim@other.example, Eve <eve@example.com>',
      'x: victim@other.example; Eve <eve@example.com>',
      'Eve; victim@other.example <eve@example.com>',
      '"Eve\\"<eve@example.com>',
      'Eve (victim@other.example) <eve@example.com>',
    ]) {
      expect(isMailAddress(address), address).toBe(false)
    }
  })

  it('keeps names people have', () => {
    for (const address of [
      'Ada Lovelace <ada@example.com>',
      '"Lovelace, Ada" <ada@example.com>',
      'J. R. Smith <j@example.com>',
      "O'Brien <ob@example.com>",
      'Zoë Ölçer <z@example.com>',
      'ada@example.com',
    ]) {
      expect(isMailAddress(address), address).toBe(true)
    }
  })

  it('accepts only what a mail parser reads as exactly that one address', () => {
    const text = fc.string({ unit: fc.constantFrom(...' ,;:@()<>"\\.\'aZ\t'.split('')) })
    fc.assert(
      fc.property(text, text, fc.constantFrom('bare', 'named', 'quoted'), (name, local, form) => {
        const bare = `${local}@example.com`
        const address =
          form === 'bare' ? bare : form === 'quoted' ? `"${name}" <${bare}>` : `${name} <${bare}>`
        if (!isMailAddress(address)) return
        // What the channel validated: the text in the last angle brackets, or all of it. Not
        // always `bare`: '" <"<a@example.com>' is the name '" <"' and the address a@example.com.
        const validated = form === 'bare' ? bare : address.slice(address.lastIndexOf('<') + 1, -1)
        const parsed = addressparser(address)
        expect(parsed).toHaveLength(1)
        expect(parsed[0]?.address).toBe(validated)
      }),
      { numRuns: 5_000 },
    )
  })
})

describe('MailChannel.validate', () => {
  const channel = mailChannel({ from: 'Shop <no-reply@shop.example>', transport: new DevMailbox() })

  it('refuses extra headers that would name recipients, reshape the message or are not header names', () => {
    const refused: Record<string, string>[] = [
      { Bcc: 'victim@other.example' },
      { 'reply-to': 'eve@example.com' },
      { 'Content-Type': 'multipart/mixed; boundary="b"' },
      { 'content-transfer-encoding': '8bit' },
      { 'MIME-Version': '1.0' },
      { Subject: 'Another subject' },
      { 'Message-ID': '<another@example.com>' },
      { 'X-Note\r\nBcc: victim@other.example': 'x' },
      { 'X:Note': 'x' },
    ]
    for (const headers of refused) {
      expect(
        channel.validate({ subject: 'Hi', text: 'x', headers }, 'ada@example.com'),
        JSON.stringify(headers),
      ).toBeDefined()
    }
    expect(
      channel.validate(
        { subject: 'Hi', text: 'x', headers: { 'List-Unsubscribe': '<https://shop.example/u>' } },
        'ada@example.com',
      ),
    ).toBeUndefined()
  })

  it('refuses every value that is not the text a field declares (nodemailer reads objects as instructions)', () => {
    const notText = fc.oneof(
      fc.object(),
      fc.array(fc.anything()),
      fc.record({ prepared: fc.constant(true), value: fc.string() }),
      fc.record({ path: fc.constant('/etc/passwd') }),
      fc.record({ href: fc.constant('http://169.254.169.254/') }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
    )
    const field = fc.constantFrom(
      (value: unknown) => ({ subject: value }),
      (value: unknown) => ({ text: value }),
      (value: unknown) => ({ html: value }),
      (value: unknown) => ({ from: value }),
      (value: unknown) => ({ replyTo: value }),
      (value: unknown) => ({ cc: [value] }),
      (value: unknown) => ({ bcc: [value] }),
      (value: unknown) => ({ headers: { 'X-Note': value } }),
      (value: unknown) => ({ attachments: [{ filename: value, content: 'x' }] }),
      (value: unknown) => ({ attachments: [{ filename: 'a.txt', content: value }] }),
      (value: unknown) => ({
        attachments: [{ filename: 'a.txt', content: 'x', contentType: value }],
      }),
    )
    fc.assert(
      fc.property(field, notText, (place, value) => {
        const message = { subject: 'Hi', text: 'x', ...place(value) } as unknown as MailMessage
        expect(channel.validate(message, 'ada@example.com')).toEqual(expect.any(String))
      }),
    )
  })

  it('takes attachment bytes only as base64 that decodes to them, nothing the decoder would skip', () => {
    const attach = (base64: string) =>
      channel.validate(
        { subject: 'Hi', text: 'x', attachments: [{ filename: 'a.bin', content: { base64 } }] },
        'ada@example.com',
      )
    fc.assert(
      fc.property(fc.uint8Array(), (bytes) => {
        const buffer = Buffer.from(bytes)
        expect(attach(buffer.toString('base64'))).toBeUndefined()
        expect(attach(buffer.toString('base64url'))).toBeUndefined()
      }),
    )
    expect(attach('JVBERi0x\r\nLjQK')).toBeUndefined() // wrapped lines
    for (const garbled of [
      'data:application/pdf;base64,JVBERi0x',
      'JVBE Ri0x',
      'JVBERi0x!',
      'QUJDR',
    ]) {
      expect(attach(garbled), garbled).toMatch(/attachments\.0\.content.* is not base64/)
    }
  })

  it('refuses line breaks in header values and attachment types', () => {
    for (const message of [
      { subject: 'Hi', text: 'x', headers: { 'X-Note': 'x\r\nBcc: victim@other.example' } },
      {
        subject: 'Hi',
        text: 'x',
        attachments: [{ filename: 'a.txt', content: 'x', contentType: 'text/plain\r\nX-Evil: 1' }],
      },
      { subject: 'Hi', text: 'x', attachments: [{ filename: 'a\r\n.txt', content: 'x' }] },
    ]) {
      expect(channel.validate(message, 'ada@example.com'), JSON.stringify(message)).toBeDefined()
    }
  })
})
