import { randomUUID } from 'node:crypto'
import { type AddressInfo, createServer } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as vitest from 'vitest'
import { NotifyConfigError } from '../../errors.js'
import { closedPort } from '../../test-support/local-server.js'
import { type SmtpTestServer, startSmtpTestServer } from '../../test-support/smtp-test-server.js'
import { channelConformance } from '../../testing/channel-conformance.js'
import type { Outgoing } from '../channel.js'
import { mailChannel } from './mail-channel.js'
import type { MailMessage } from './mail-message.js'
import { classifySmtpError, smtpTransport } from './smtp-transport.js'

const from = 'Shop <no-reply@shop.example>'

function outgoing(
  to: string,
  message: MailMessage = { subject: 'Hello', text: 'Hi' },
): Outgoing<MailMessage> {
  return {
    id: randomUUID(),
    to,
    message,
    recipientId: 'u-1',
    type: 'welcome',
    attempt: 1,
    signal: new AbortController().signal,
  }
}

describe('mail over SMTP (nodemailer, pooled)', () => {
  let server: SmtpTestServer
  beforeAll(async () => {
    server = await startSmtpTestServer()
  })
  afterAll(() => server.close())

  it('delivers subject, text, HTML and attachments, parsed back from the wire', async () => {
    const channel = mailChannel({ from, transport: smtpTransport({ url: server.url }) })
    const message = outgoing('ada@example.com', {
      subject: 'Your receipt — n°42',
      text: 'Thanks for your order.',
      html: '<p>Thanks for your <b>order</b>.</p>',
      replyTo: 'help@shop.example',
      attachments: [
        { filename: 'receipt.txt', content: 'Total: 12.00 EUR' },
        {
          filename: 'logo.png',
          content: { base64: Buffer.from([137, 80, 78, 71]).toString('base64') },
          contentType: 'image/png',
        },
      ],
      headers: { 'X-Order': '42' },
    })
    const result = await channel.send(message)
    expect(result).toMatchObject({ status: 'accepted' })
    const mail = server.mails.at(-1)
    expect(mail?.subject).toBe('Your receipt — n°42')
    expect(mail?.from?.value).toEqual([{ name: 'Shop', address: 'no-reply@shop.example' }])
    expect(mail?.to && 'text' in mail.to ? mail.to.text : undefined).toBe('ada@example.com')
    expect(mail?.text?.trim()).toBe('Thanks for your order.')
    expect(mail?.html).toContain('<b>order</b>')
    expect(mail?.replyTo?.text).toBe('help@shop.example')
    expect(mail?.messageId).toBe(`<${message.id}@shop.example>`)
    expect(mail?.headers.get('x-order')).toBe('42')
    expect(mail?.attachments.map((a) => [a.filename, a.content.toString('base64')])).toEqual([
      ['receipt.txt', Buffer.from('Total: 12.00 EUR').toString('base64')],
      ['logo.png', Buffer.from([137, 80, 78, 71]).toString('base64')],
    ])
    await channel.close()
  })

  it('reuses pooled connections: 30 mails over at most 3', async () => {
    const channel = mailChannel({
      from,
      transport: smtpTransport({ url: server.url, maxConnections: 3 }),
    })
    const before = server.connections()
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => channel.send(outgoing(`n${i}@example.com`))),
    )
    expect(results.every((result) => result.status === 'accepted')).toBe(true)
    expect(server.connections() - before).toBeLessThanOrEqual(3)
    await channel.close()
  })

  it('closes its idle pooled connections on close(): an open keep-alive socket keeps a process alive', async () => {
    const channel = mailChannel({
      from,
      transport: smtpTransport({ url: server.url, maxConnections: 3 }),
    })
    await Promise.all(
      Array.from({ length: 9 }, (_, i) => channel.send(outgoing(`idle${i}@example.com`))),
    )
    // Kept open for the next mail.
    expect(server.openConnections()).toBeGreaterThan(0)
    await channel.close()
    // The server sees each socket end once the client closed it (QUIT, then FIN).
    for (let waited = 0; server.openConnections() > 0 && waited < 500; waited++) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    expect(server.openConnections()).toBe(0)
  })

  it('reports a 550 for the recipient as permanent, with the reply', async () => {
    server.rcptReplies.set('gone@example.com', { code: 550, text: 'Mailbox unavailable' })
    const channel = mailChannel({ from, transport: smtpTransport({ url: server.url }) })
    expect(await channel.send(outgoing('gone@example.com'))).toMatchObject({
      status: 'permanent',
      reason: expect.stringContaining('550'),
    })
    await channel.close()
  })

  it('reports a 451 as not-accepted (the server said: not now)', async () => {
    server.rcptReplies.set('later@example.com', { code: 451, text: 'Try again later' })
    const channel = mailChannel({ from, transport: smtpTransport({ url: server.url }) })
    expect(await channel.send(outgoing('later@example.com'))).toMatchObject({
      status: 'not-accepted',
    })
    await channel.close()
  })

  it('reports the recipient refused while a cc or bcc took the mail as not sent: 550 permanent, 451 not-accepted, each naming whom it went to', async () => {
    // nodemailer sends to the recipients the server accepts and resolves: without a look at what
    // it refused, the delivery was `sent` though its recipient got nothing.
    // (nodemailer writes the domain in lower case in the envelope; the recipient is matched so.)
    server.rcptReplies.set('Unknown@example.com', { code: 550, text: 'No such user' })
    server.rcptReplies.set('greylisted@example.com', { code: 451, text: 'Greylisted, try later' })
    const channel = mailChannel({ from, transport: smtpTransport({ url: server.url }) })
    const before = server.mails.length
    expect(
      await channel.send(
        outgoing('Unknown <Unknown@Example.com>', {
          subject: 'Hello',
          text: 'Hi',
          cc: ['boss@example.com'],
        }),
      ),
    ).toMatchObject({
      status: 'permanent',
      reason: expect.stringMatching(/550.*No such user.*other recipients/),
      sentTo: ['boss@example.com'],
    })
    expect(
      await channel.send(
        outgoing('greylisted@example.com', {
          subject: 'Hello',
          text: 'Hi',
          bcc: ['archive@example.com'],
        }),
      ),
    ).toMatchObject({
      status: 'not-accepted',
      reason: expect.stringContaining('451'),
      sentTo: ['archive@example.com'],
    })
    // The copies went out: the server took both mails, for the cc and the bcc.
    expect(server.mails.length).toBe(before + 2)
    // A refused cc alone leaves the recipient's mail sent.
    server.rcptReplies.set('gone-cc@example.com', { code: 550, text: 'No such user' })
    expect(
      await channel.send(
        outgoing('ada@example.com', { subject: 'Hello', text: 'Hi', cc: ['gone-cc@example.com'] }),
      ),
    ).toMatchObject({ status: 'accepted' })
    await channel.close()
  })

  it('reports a host or network unreachable as not-accepted only while connecting: on an established connection the data may have gone', () => {
    const socketError = (code: string, syscall: string) =>
      classifySmtpError(
        Object.assign(new Error(`${syscall} ${code}`), {
          code: 'ESOCKET',
          originalCode: code,
          syscall,
          command: 'CONN',
        }),
      ).status
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH']) {
      expect(socketError(code, 'connect')).toBe('not-accepted')
      expect(socketError(code, 'read')).toBe('transient')
      expect(socketError(code, 'write')).toBe('transient')
    }
    expect(socketError('ECONNREFUSED', 'connect')).toBe('not-accepted')
    expect(socketError('ECONNRESET', 'read')).toBe('transient')
  })

  it('reports a server that is down as not-accepted: nothing was handed over', async () => {
    const port = await closedPort()
    const channel = mailChannel({
      from,
      transport: smtpTransport({ url: `smtp://127.0.0.1:${port}` }),
    })
    expect(await channel.send(outgoing('ada@example.com'))).toMatchObject({
      status: 'not-accepted',
    })
    await channel.close()
  })

  /** A raw SMTP server that ends each connection at `stage`: before its greeting, or once the message's data came. */
  async function droppingServer(stage: 'greeting' | 'data') {
    const server = createServer((socket) => {
      if (stage === 'greeting') return socket.end()
      socket.write('220 drop.example ESMTP\r\n')
      let data = false
      let buffer = ''
      socket.on('data', (chunk) => {
        buffer += chunk.toString('latin1')
        if (data) {
          if (buffer.includes('\r\n.\r\n')) socket.destroy()
          return
        }
        for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
          const line = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (/^DATA/i.test(line)) {
            data = true
            socket.write('354 go on\r\n')
            return
          }
          socket.write(/^QUIT/i.test(line) ? '221 bye\r\n' : '250 ok\r\n')
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return {
      url: `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => new Promise((resolve) => server.close(resolve)),
    }
  }

  it('reports a server that ends the connection before its greeting as not-accepted (a fallback may send), one that ends it after the data as transient', async () => {
    const refusing = await droppingServer('greeting')
    const channel = mailChannel({
      from,
      transport: smtpTransport({ url: refusing.url, timeoutMs: 2_000 }),
    })
    expect(await channel.send(outgoing('ada@example.com'))).toMatchObject({
      status: 'not-accepted',
      reason: expect.stringContaining('ECONNECTION'),
    })
    await channel.close()
    await refusing.close()
    const dropping = await droppingServer('data')
    const after = mailChannel({
      from,
      transport: smtpTransport({ url: dropping.url, timeoutMs: 2_000 }),
    })
    expect(await after.send(outgoing('ada@example.com'))).toMatchObject({ status: 'transient' })
    await after.close()
    await dropping.close()
  })

  it('reports a silence after the message was sent as transient: the server may have taken it', async () => {
    const hanging = await startSmtpTestServer()
    hanging.hangOnData = true
    const channel = mailChannel({
      from,
      transport: smtpTransport({ url: hanging.url, timeoutMs: 300 }),
    })
    expect(await channel.send(outgoing('ada@example.com'))).toMatchObject({ status: 'transient' })
    await channel.close()
    await hanging.close()
  })

  it('reports refused credentials as not-accepted', async () => {
    const guarded = await startSmtpTestServer({ auth: { user: 'shop', pass: 'right' } })
    const channel = mailChannel({
      from,
      transport: smtpTransport({ url: guarded.url.replace('shop:right', 'shop:wrong') }),
    })
    expect(await channel.send(outgoing('ada@example.com'))).toMatchObject({
      status: 'not-accepted',
    })
    const good = mailChannel({ from, transport: smtpTransport({ url: guarded.url }) })
    expect(await good.send(outgoing('ada@example.com'))).toMatchObject({ status: 'accepted' })
    await channel.close()
    await good.close()
    await guarded.close()
  })

  it('quotes no password a server echoes in its reply', async () => {
    const careless = await startSmtpTestServer({
      auth: { user: 'shop', pass: 'right' },
      echoPassword: true,
    })
    const channel = mailChannel({
      from,
      transport: smtpTransport({ url: careless.url.replace('shop:right', 'shop:wr%2Fong-pass') }),
    })
    const result = await channel.send(outgoing('ada@example.com'))
    expect(result).toMatchObject({ status: 'not-accepted', reason: expect.stringMatching(/535/) })
    expect(JSON.stringify(result)).not.toContain('ong-pass')
    await channel.close()
    await careless.close()
  })

  it('sends credentials over smtp: only after STARTTLS, except to a loopback host', async () => {
    // The test server offers no STARTTLS. 0.0.0.0 reaches it (Linux) without looking like loopback.
    const guarded = await startSmtpTestServer({ auth: { user: 'shop', pass: 'right' } })
    const remote = mailChannel({
      from,
      transport: smtpTransport({ url: `smtp://shop:right@0.0.0.0:${guarded.port}` }),
    })
    const result = await remote.send(outgoing('ada@example.com'))
    expect(result).toMatchObject({ status: 'not-accepted', reason: expect.stringMatching(/^ETLS/) })
    expect(guarded.authAttempts()).toBe(0)
    expect(guarded.mails).toHaveLength(0)
    const local = mailChannel({
      from,
      transport: smtpTransport({ url: `smtp://shop:right@localhost:${guarded.port}` }),
    })
    expect(await local.send(outgoing('ada@example.com'))).toMatchObject({ status: 'accepted' })
    expect(guarded.authAttempts()).toBe(1)
    await remote.close()
    await local.close()
    await guarded.close()
  })

  it('reports a certificate it refuses as not-accepted: the handshake comes before any command', async () => {
    // nodemailer says ESOCKET, as for a socket lost mid-DATA: before, transient, so a fallback
    // provider was never tried while the first one's certificate had expired.
    for (const tls of [{ implicitTls: true }, { startTls: true }]) {
      const untrusted = await startSmtpTestServer(tls)
      const channel = mailChannel({ from, transport: smtpTransport({ url: untrusted.url }) })
      expect(await channel.send(outgoing('ada@example.com')), JSON.stringify(tls)).toEqual({
        status: 'not-accepted',
        reason: expect.stringMatching(/^ESOCKET: .*certificate/),
      })
      expect(untrusted.mails).toHaveLength(0)
      await channel.close()
      await untrusted.close()
    }
  })

  it('refuses every query in the URL: nodemailer reads each key as an option over the transport’s own', async () => {
    // A server offering STARTTLS with a certificate no one trusts: the password must not go.
    const impostor = await startSmtpTestServer({
      auth: { user: 'shop', pass: 'right' },
      startTls: true,
    })
    const url = `smtp://shop:right@0.0.0.0:${impostor.port}`
    const checked = mailChannel({ from, transport: smtpTransport({ url }) })
    expect(await checked.send(outgoing('ada@example.com'))).not.toMatchObject({
      status: 'accepted',
    })
    await checked.close()
    for (const query of [
      // Before, each of these went through: the first sent the password to the impostor.
      'tls.rejectUnauthorized=false',
      'socketTimeout=600000',
      'service=gmail',
      'disableFileAccess=false',
      'logger=true&debug=true',
      'requireTLS=false',
      'ignoreTLS=true',
      'secure=false',
      'opportunisticTLS=true',
    ]) {
      const create = () => smtpTransport({ url: `${url}?${query}` })
      expect(create, query).toThrow(NotifyConfigError)
      expect(create, query).toThrow(/may not carry a query/)
      expect(create, query).not.toThrow(/right/)
    }
    expect(impostor.authAttempts()).toBe(0)
    await impostor.close()
  })

  it('refuses invalid addresses and header injection before talking to the server', async () => {
    const channel = mailChannel({ from, transport: smtpTransport({ url: server.url }) })
    const before = server.mails.length
    for (const to of [
      'not-an-address',
      'a@b.example\r\nBcc: x@evil.example',
      'a b@example.com',
      '',
    ]) {
      expect(await channel.send(outgoing(to))).toMatchObject({ status: 'permanent' })
    }
    expect(
      await channel.send(
        outgoing('ada@example.com', { subject: 'Hi\r\nBcc: x@evil.example', text: 'x' }),
      ),
    ).toMatchObject({
      status: 'permanent',
    })
    expect(await channel.send(outgoing('ada@example.com', { subject: 'No body' }))).toMatchObject({
      status: 'permanent',
    })
    expect(server.mails.length).toBe(before)
    await channel.close()
  })

  it('sends nothing when a field holds what nodemailer would read as an instruction', async () => {
    const channel = mailChannel({ from, transport: smtpTransport({ url: server.url }) })
    const before = server.mails.length
    for (const message of [
      // a raw header: line breaks and all
      { headers: { 'X-Note': { prepared: true, value: 'x\r\nBcc: victim@other.example' } } },
      { html: { path: '/etc/hostname' } },
      { text: { href: 'http://169.254.169.254/latest/meta-data/' } },
      { attachments: [{ filename: 'a.txt', content: { path: '/etc/hostname' } }] },
      { from: { name: 'Shop', address: 'victim@other.example' } },
    ]) {
      const result = await channel.send(
        outgoing('ada@example.com', {
          subject: 'Hi',
          text: 'x',
          ...message,
        } as unknown as MailMessage),
      )
      expect(result, JSON.stringify(message)).toMatchObject({
        status: 'permanent',
        reason: expect.stringContaining("the mail's"),
      })
    }
    expect(server.mails.length).toBe(before)
    await channel.close()
  })

  it('refuses a bad URL or sender at creation', () => {
    expect(() => smtpTransport({ url: 'http://mail.example' })).toThrow(/smtp: or smtps:/)
    expect(() =>
      mailChannel({ from: 'nobody', transport: smtpTransport({ url: server.url }) }),
    ).toThrow(/not a mail address/)
  })
})

channelConformance(vitest, 'mail (SMTP)', async () => {
  const server = await startSmtpTestServer()
  server.rcptReplies.set('unknown@example.com', { code: 550, text: 'No such user' })
  const down = await closedPort()
  return {
    channel: mailChannel({ from, transport: smtpTransport({ url: server.url }) }),
    message: { subject: 'Conformance', text: 'Hello' },
    to: 'ada@example.com',
    invalidTo: 'unknown@example.com',
    received: () => server.mails,
    unreachable: {
      channel: mailChannel({ from, transport: smtpTransport({ url: `smtp://127.0.0.1:${down}` }) }),
      to: 'ada@example.com',
    },
    routed: {
      recipient: { id: 'u', email: 'ada@example.com' },
      address: 'ada@example.com',
      unrouted: { id: 'v' },
    },
    dispose: () => server.close(),
  }
})
