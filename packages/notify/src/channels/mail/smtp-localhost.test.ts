// Its own file: nodemailer caches what a name resolved to for the whole process, so a
// `localhost` another test resolved first would hide what this one asks of the DNS servers.
import { randomUUID } from 'node:crypto'
import { Resolver } from 'node:dns'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSmtpTestServer } from '../../test-support/smtp-test-server.js'
import { mailChannel } from './mail-channel.js'
import { smtpTransport } from './smtp-transport.js'

describe('smtpTransport and localhost', () => {
  // The names asked of DNS servers (nodemailer's resolver, which skips the hosts file): a
  // server's answer for `localhost` (hostile, or a wildcard) could name a remote host.
  const asked: string[] = []
  const { resolve4, resolve6 } = Resolver.prototype
  beforeAll(() => {
    Resolver.prototype.resolve4 = function (this: Resolver, name: string, ...rest: never[]) {
      asked.push(name)
      return (resolve4 as (...args: unknown[]) => void).call(this, name, ...rest)
    } as typeof resolve4
    Resolver.prototype.resolve6 = function (this: Resolver, name: string, ...rest: never[]) {
      asked.push(name)
      return (resolve6 as (...args: unknown[]) => void).call(this, name, ...rest)
    } as typeof resolve6
  })
  afterAll(() => {
    Resolver.prototype.resolve4 = resolve4
    Resolver.prototype.resolve6 = resolve6
  })

  it('sends the password without TLS to localhost only as this machine resolves it, never as a DNS server answers', async () => {
    const relay = await startSmtpTestServer({ auth: { user: 'shop', pass: 'right' } })
    const channel = mailChannel({
      from: 'Shop <no-reply@shop.example>',
      transport: smtpTransport({ url: `smtp://shop:right@localhost:${relay.port}` }),
    })
    const result = await channel.send({
      id: randomUUID(),
      to: 'ada@example.com',
      message: { subject: 'Hello', text: 'Hi' },
      recipientId: 'u-1',
      type: 'welcome',
      attempt: 1,
      signal: new AbortController().signal,
    })
    expect(result).toMatchObject({ status: 'accepted' })
    expect(relay.authAttempts()).toBe(1)
    expect(asked).not.toContain('localhost')
    await channel.close()
    await relay.close()
  })
})
