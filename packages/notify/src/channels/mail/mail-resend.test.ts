import { createLogger, databaseToken, JOBS } from '@mortar/core'
import {
  createTestApp,
  deleteRedisKeys,
  type PrivateDatabaseUrl,
  privateDatabaseUrl,
  privateRedisPrefix,
  type TestApp,
  testEngines,
} from '@mortar/core/testing'
import { type Kysely, sql } from 'kysely'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { DELIVERIES, NOTIFIER } from '../../module/notify-tokens.js'
import { notifyModule } from '../../module/notify-module.js'
import { Notification } from '../../notification/notification.js'
import type { Recipient } from '../../notification/recipient.js'
import { type SmtpTestServer, startSmtpTestServer } from '../../test-support/smtp-test-server.js'
import type { Outgoing } from '../channel.js'
import { fallbackChannel } from '../fallback-channel.js'
import { type MailChannel, mailChannel } from './mail-channel.js'
import type { MailMessage } from './mail-message.js'
import { smtpTransport } from './smtp-transport.js'

class Invoice extends Notification {
  readonly type = 'invoice'
  via() {
    return ['mail'] as const
  }
  toMail() {
    return {
      subject: 'Your invoice',
      text: 'Attached.',
      cc: ['Boss <Boss@Example.com>'],
      bcc: ['archive@example.com'],
    }
  }
}

/** A mail provider on the SMTP server `server()` (read at its first send: servers start in beforeAll). */
function provider(server: () => SmtpTestServer) {
  let channel: MailChannel | undefined
  return {
    name: 'mail' as const,
    route: (recipient: Recipient) => recipient.email,
    send: (outgoing: Outgoing<MailMessage>) => {
      channel ??= mailChannel({
        from: 'shop@example.com',
        transport: smtpTransport({ url: server().url }),
      })
      return channel.send(outgoing)
    },
    close: async () => channel?.close(),
  }
}

const redisUrl = process.env.MORTAR_TEST_REDIS_URL
const queues = [
  { title: 'the SQL queue', engine: 'database' as const, skip: undefined },
  {
    title: 'BullMQ',
    engine: 'bullmq' as const,
    skip: redisUrl ? undefined : 'MORTAR_TEST_REDIS_URL is unset',
  },
]

for (const engine of testEngines()) {
  for (const queue of queues) {
    const skip = engine.skip ?? queue.skip
    const title = `mail sent again through the ledger on ${engine.title} with ${queue.title}`
    if (skip) console.info(`[skipped] ${title}: ${skip}`)
    describe.skipIf(skip !== undefined)(title, () => {
      let servers: SmtpTestServer[] = []
      let database: PrivateDatabaseUrl
      const prefix = privateRedisPrefix()
      let app: TestApp
      const [first, second] = [0, 1].map((index) => () => servers[index] as SmtpTestServer) as [
        () => SmtpTestServer,
        () => SmtpTestServer,
      ]
      beforeAll(async () => {
        servers = [await startSmtpTestServer(), await startSmtpTestServer()]
        database = await privateDatabaseUrl(engine)
        app = createTestApp({
          database: database.url,
          ...(queue.engine === 'bullmq' ? { redis: { url: redisUrl as string, prefix } } : {}),
          logger: createLogger({ level: 'silent' }),
          jobs: { engine: queue.engine, workers: false },
          modules: [
            notifyModule({
              // Alone on the first server (a recipient of its own), or the first then the second.
              channels: [fallbackChannel([provider(first), provider(second)])],
              delivery: { attempts: 3, backoff: { baseMs: 0, maxMs: 0 } },
            }),
          ],
        })
        await app.migrate()
        app.clock.set(Date.now())
        await app.start()
      })
      afterAll(async () => {
        await app?.stop()
        await database?.drop()
        if (queue.engine === 'bullmq') await deleteRedisKeys(redisUrl as string, prefix)
        await Promise.all(servers.map((server) => server.close()))
      })
      beforeEach(() => {
        for (const server of servers) {
          server.mails.length = 0
          server.envelopes.length = 0
          server.rcptReplies.clear()
        }
      })
      const drain = () => app.resolve(JOBS).drain()
      const sendInvoice = async (id: string) => {
        const email = `${id}@example.com`
        const { deliveries } = await app.resolve(NOTIFIER).notify({ id, email }, new Invoice())
        return { email, id: deliveries[0]?.id as string }
      }

      it('sends the next provider only the recipient the first refused for good, not the cc and bcc it took', async () => {
        // The first provider's server refuses ada (its suppression list), and takes the others.
        first().rcptReplies.set('ada@example.com', { code: 550, text: 'Recipient suppressed' })
        const { id } = await sendInvoice('ada')
        await drain()
        // (nodemailer writes the domain in lower case in the envelope.)
        expect(first().envelopes).toEqual([['Boss@example.com', 'archive@example.com']])
        // Before, the second got all three: boss and the archive had the invoice twice.
        expect(second().envelopes).toEqual([['ada@example.com']])
        expect(second().mails[0]?.subject).toBe('Your invoice')
        expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({ status: 'sent' })
      })

      it('retries a mail whose recipient the server held off (451) while it took the cc and bcc: the retry goes to the recipient alone', async () => {
        // Both providers hold dee off once: the mail is retried.
        for (const server of servers) {
          server.rcptReplies.set('dee@example.com', { code: 451, text: 'Greylisted', once: true })
        }
        const { id } = await sendInvoice('dee')
        await drain()
        // (nodemailer writes the domain in lower case in the envelope.)
        // Before, the retry sent boss and the archive a second invoice.
        expect(first().envelopes).toEqual([
          ['Boss@example.com', 'archive@example.com'],
          ['dee@example.com'],
        ])
        expect(second().envelopes).toEqual([])
        expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({
          status: 'sent',
          attempts: 2,
          // Nothing was unknown: the server said whom it took the mail for.
          possibleDuplicates: 0,
        })
      })

      it('retries a mail after every provider failed it (the first refused the recipient for good, the second was down): the retry sends the cc and bcc nothing again', async () => {
        first().rcptReplies.set('bea@example.com', { code: 550, text: 'Recipient suppressed' })
        second().rcptReplies.set('bea@example.com', { code: 451, text: 'Not now', once: true })
        const { id } = await sendInvoice('bea')
        await drain()
        // Before, the retry began again with the first provider and the whole mail.
        expect(first().envelopes).toEqual([['Boss@example.com', 'archive@example.com']])
        expect(second().envelopes).toEqual([['bea@example.com']])
        expect(second().mails[0]?.subject).toBe('Your invoice')
        expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({ status: 'sent', attempts: 2 })
      })

      it('takes over the mark of an attempt cut off after it kept whom it reached: the send goes to the recipient alone, counted as a possible duplicate', async () => {
        const { id } = await sendInvoice('eve')
        // As a worker that died after the server took the mail for the cc and bcc, and after the
        // ledger kept them, before the result: its mark's lease passed.
        await sql`update ${sql.table('mortar_delivery')} set status = 'sending', attempts = 1,
          sending_token = 'crashed', sending_until = 0,
          sent_to = ${JSON.stringify(['Boss@example.com', 'archive@example.com'])}
          where id = ${id}`.execute(app.resolve(databaseToken()) as Kysely<unknown>)
        await drain()
        expect(first().envelopes).toEqual([['eve@example.com']])
        expect(await app.resolve(DELIVERIES).get(id)).toMatchObject({
          status: 'sent',
          attempts: 2,
          possibleDuplicates: 1,
        })
      })

      it('replays a dead mail whose recipient every provider refused while the first took the cc and bcc: the replay goes to the recipient alone', async () => {
        for (const server of servers) {
          server.rcptReplies.set('cy@example.com', { code: 550, text: 'No such user' })
        }
        const { id } = await sendInvoice('cy')
        await drain()
        const deliveries = app.resolve(DELIVERIES)
        expect(await deliveries.get(id)).toMatchObject({ status: 'dead', attempts: 1 })
        expect(first().envelopes).toEqual([['Boss@example.com', 'archive@example.com']])
        // The address works again (a mailbox restored): the dead delivery is replayed.
        for (const server of servers) server.rcptReplies.clear()
        expect(await deliveries.replay(id)).toBe(1)
        await drain()
        // Before, the replay sent boss and the archive a second invoice.
        expect(first().envelopes).toEqual([
          ['Boss@example.com', 'archive@example.com'],
          ['cy@example.com'],
        ])
        expect(second().envelopes).toEqual([])
        expect(await deliveries.get(id)).toMatchObject({ status: 'sent', possibleDuplicates: 0 })
      })
    })
  }
}
