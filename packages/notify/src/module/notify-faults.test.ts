import { createLogger, JOBS } from '@mortar/core'
import { createTestApp, type TestApp } from '@mortar/core/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { inboxChannel } from '../channels/inbox/index.js'
import { mailChannel } from '../channels/mail/mail-channel.js'
import { smtpTransport } from '../channels/mail/smtp-transport.js'
import { Notification } from '../notification/notification.js'
import { closedPort } from '../test-support/local-server.js'
import { type SmtpTestServer, startSmtpTestServer } from '../test-support/smtp-test-server.js'
import { notifyModule } from './notify-module.js'
import { DELIVERIES, NOTIFIER } from './notify-tokens.js'

class Receipt extends Notification {
  readonly type = 'receipt'
  via() {
    return ['mail', 'inbox'] as const
  }
  toMail() {
    return { subject: 'Your receipt', text: 'Thanks.' }
  }
  toInbox() {
    return { title: 'Your receipt' }
  }
}

describe('the ledger with a real SMTP server that is down', () => {
  let app: TestApp
  let port: number
  let smtp: SmtpTestServer | undefined

  beforeAll(async () => {
    port = await closedPort()
    app = createTestApp({
      database: 'sqlite::memory:',
      logger: createLogger({ level: 'silent' }),
      jobs: { workers: false },
      modules: [
        notifyModule({
          channels: [
            mailChannel({
              from: 'Shop <shop@example.com>',
              transport: smtpTransport({ url: `smtp://127.0.0.1:${port}`, timeoutMs: 2_000 }),
            }),
            inboxChannel(),
          ],
          delivery: { attempts: 5, backoff: { baseMs: 1_000, maxMs: 1_000 } },
        }),
      ],
    })
    await app.migrate()
    app.clock.set('2026-06-01T10:00:00Z')
    await app.start()
  })
  afterAll(async () => {
    await app.stop()
    await smtp?.close()
  })

  it('retries the mail while the server is down, loses nothing, and sends it once it is up', async () => {
    await app.resolve(NOTIFIER).notify({ id: 'ada', email: 'ada@example.com' }, new Receipt())
    await app.resolve(JOBS).drain()
    const deliveries = app.resolve(DELIVERIES)
    const byChannel = async () =>
      Object.fromEntries((await deliveries.list('ada')).map((row) => [row.channel, row]))

    // The inbox is not held back by the failing mail; the mail waits for a retry, with its reason.
    let rows = await byChannel()
    expect(rows.inbox?.status).toBe('sent')
    expect(rows.mail?.status).toBe('failed')
    expect(rows.mail?.attempts).toBe(1)
    expect(rows.mail?.lastError).toMatch(/ECONNREFUSED|connect/i)

    smtp = await startSmtpTestServer({ port })
    app.clock.advance(60_000)
    await app.resolve(JOBS).drain()
    rows = await byChannel()
    expect(rows.mail?.status).toBe('sent')
    expect(rows.mail?.attempts).toBe(2)
    expect(smtp.mails).toHaveLength(1)
    expect(smtp.mails[0]?.subject).toBe('Your receipt')
    expect(smtp.mails[0]?.to).toMatchObject({ text: 'ada@example.com' })
  })
})
